/* global document, window, fetch, location, URLSearchParams, FormData, URL, Blob, setTimeout */
// 消费扶贫智能专柜看板: a small hash-routed page over /api/v1 with the session
// cookie. Everything shown comes from the API, so the caller's scope applies.
'use strict'

// Every word and number format comes from shared/src/text/zh.ts (served as zh.js).
const ZH = window.ZH
const STATUS_ZH = ZH.labels.cabinetStatus
const ROLE_ZH = ZH.labels.role
const MS_ZH = ZH.labels.milestoneState
const KIND_ZH = ZH.labels.alertKind
const SEV_ZH = ZH.labels.severity
const ERR_ZH = ZH.errors
const REPORT_KIND_ZH = ZH.labels.reportKind

const app = document.getElementById('app')
const who = document.getElementById('who')
const nav = document.getElementById('nav')
let me = null
let charts = []
let planInfoCache = null
// Bumped on every navigation: a page still loading when the user moved on must
// not draw over the next one (its GETs answer StaleError instead).
let routeSeq = 0

const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c])
const pct = (n, d) => (d > 0 ? Math.round((n / d) * 1000) / 10 : 0)
const yuan = ZH.yuanZh
const bj = ZH.beijingZh
const empty = (text) => `<div class="empty">${esc(text)}</div>`

class StaleError extends Error {}

class ApiError extends Error {
  constructor(status, code, message) {
    super(message)
    this.status = status
    this.code = code
  }
}

async function api(method, path, body) {
  const seq = routeSeq
  const res = await fetch(`/api/v1${path}`, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  if (method === 'GET' && seq !== routeSeq) throw new StaleError('navigated away')
  const data = text ? JSON.parse(text) : null
  if (!res.ok) {
    const code = data?.error?.code ?? 'INTERNAL'
    // The server's message is Chinese and names the specifics; the catalogue text is the fallback.
    throw new ApiError(res.status, code, data?.error?.message ?? ERR_ZH[code] ?? `请求失败（${res.status}）`)
  }
  return data
}

function showError(err) {
  if (err instanceof StaleError) return
  if (err instanceof ApiError && err.status === 401) return renderLogin()
  app.innerHTML = `<div class="empty bad">${esc(err.message || '加载失败')}</div>`
}

// ECharts is large; load it only when a chart is about to be drawn.
let echartsLoading = null
function loadECharts() {
  echartsLoading ??= new Promise((resolve, reject) => {
    const s = document.createElement('script')
    s.src = '/dashboard/echarts.min.js'
    s.onload = () => resolve(window.echarts)
    s.onerror = () => reject(new Error('图表库加载失败'))
    document.head.appendChild(s)
  })
  return echartsLoading
}

function renderLogin(message) {
  me = null
  planInfoCache = null
  nav.hidden = true
  who.textContent = ''
  app.innerHTML = `
    <form class="card login" id="login">
      <h1>登录</h1>
      <label for="u">用户名</label><input id="u" name="username" autocomplete="username" required>
      <label for="p">密码</label><input id="p" name="password" type="password" autocomplete="current-password" required>
      <button class="primary" type="submit">登录</button>
      <div class="error" id="login-error">${esc(message ?? '')}</div>
    </form>`
  document.getElementById('login').addEventListener('submit', async (e) => {
    e.preventDefault()
    const f = new FormData(e.target)
    try {
      me = await api('POST', '/session', { username: f.get('username'), password: f.get('password') })
      showWho()
      route()
    } catch (err) {
      document.getElementById('login-error').textContent = err.message
    }
  })
}

function showWho() {
  nav.hidden = false
  const scope = me.role === 'county' ? `${me.countyName ?? me.countyCode}` : me.role === 'operator' ? me.operator : '滁州市'
  who.innerHTML = `<span data-testid="who">${esc(me.username)} · ${esc(ROLE_ZH[me.role])} · ${esc(scope)}</span><button id="logout" type="button">退出</button>`
  document.getElementById('logout').addEventListener('click', async () => {
    await api('DELETE', '/session').catch(() => undefined)
    renderLogin()
  })
}

/** GET /overview, or null where the server has none yet (an older server): the page then shows the rollout alone. */
async function overviewFigures() {
  try {
    return await api('GET', '/overview')
  } catch (err) {
    if (err instanceof ApiError && err.status === 404 && err.code === 'NOT_FOUND') return null
    throw err
  }
}

const fenOrCount = (n, unit) => (unit === 'fen' ? ZH.wanYuanZh(n) : `${n.toLocaleString('zh-CN')} 个`)

/** The home page's sales, share, targets and forwarding (GET /overview); '' without it. */
function homeFigures(o) {
  if (!o) return ''
  const below = (f) => f.amountFen > 0 && f.shareBp < o.thresholdBp
  const fig = (id, label, f) =>
    `<div class="kpi" data-fig="${id}"><div class="l">${esc(label)}</div><div class="n">¥${yuan(f.amountFen)}</div><div class="muted">${f.salesCount} 笔 · 扶贫产品 ¥${yuan(f.certifiedAmountFen)}</div><div class="muted">占比 <b class="${below(f) ? 'bad' : 'ok'}">${f.amountFen > 0 ? share(f.shareBp) : '—'}</b></div></div>`
  const countyName = Object.fromEntries(o.sales.byCounty.map((c) => [c.countyCode, c.countyName]))
  const countyRows = o.sales.byCounty
    .map((c) => `<tr data-sales-county="${esc(c.countyCode)}"><td>${esc(c.countyName)}</td><td class="num">${c.salesCount}</td><td class="num">¥${yuan(c.amountFen)}</td><td class="num hide-sm">¥${yuan(c.certifiedAmountFen)}</td><td class="num ${below(c) ? 'bad' : 'ok'}">${c.amountFen > 0 ? share(c.shareBp) : '—'}</td></tr>`)
    .join('')
  const cp = o.compliance
  const belowRows = cp.below
    .map(
      (b) =>
        `<tr data-below="${esc(b.cabinetId)}" class="below"><td><a href="#/cabinet/${encodeURIComponent(b.cabinetId)}">${esc(b.cabinetId)}</a></td><td class="hide-sm">${esc(countyName[b.countyCode] ?? b.countyCode)}</td><td class="hide-sm">${esc(b.siteName ?? '—')}</td><td class="num">¥${yuan(b.amountFen)}</td><td class="num hide-sm">¥${yuan(b.certifiedAmountFen)}</td><td class="num bad">${share(b.shareBp)}</td></tr>`,
    )
    .join('')
  const targetRows = o.targets
    .map((t) => {
      const done = t.target > 0 ? Math.min(100, pct(t.actual, t.target)) : 0
      return `<tr data-target="${esc(t.id)}"><td class="wrap">${esc(t.description)}</td><td class="hide-sm">${esc(t.scope.name)}</td><td class="num">${esc(fenOrCount(t.actual, t.unit))}</td><td class="num">${esc(fenOrCount(t.target, t.unit))}<div class="bar"><i style="width:${done}%"></i></div></td><td class="num hide-sm">${esc(fenOrCount(t.expectedByNow, t.unit))}</td><td class="num hide-sm">${esc(fenOrCount(t.projected, t.unit))}</td><td>${esc(t.dueDate)}</td><td><span class="badge ${t.state}">${esc(MS_ZH[t.state] ?? t.state)}</span> ${t.state === 'met' ? '' : t.onTrack ? '<span class="ok">按期</span>' : '<span class="bad">落后</span>'}</td></tr>`
    })
    .join('')
  const f = o.forwarding
  const fwKpi = (id, label, n, bad) => `<div class="kpi"><div class="l">${esc(label)}</div><div class="n ${bad && n > 0 ? 'bad' : ''}" data-testid="fw-${id}">${n}</div></div>`
  return `
    <p class="muted">截至 ${esc(o.asOf)}（北京时间）· 扶贫产品销售占比达标线 <b data-testid="threshold">${share(o.thresholdBp)}</b>（按金额）</p>
    <div class="kpis">${fig('today', '今日销售', o.sales.today)}${fig('month', '本月销售', o.sales.month)}${fig('year', '本年累计', o.sales.year)}</div>
    <div class="card"><h2>近 30 日销售与扶贫产品占比</h2><div id="trend-chart" class="chart" role="img" aria-label="每日销售额与扶贫产品占比"></div></div>
    ${o.sales.byCounty.length ? `<div class="card"><h2>各县区本月销售</h2><div id="county-chart" class="chart" role="img" aria-label="各县区扶贫产品占比"></div>
      <div class="table-wrap"><table data-testid="sales-counties"><thead><tr><th>县区</th><th class="num">笔数</th><th class="num">销售额</th><th class="num hide-sm">扶贫产品销售额</th><th class="num">占比</th></tr></thead><tbody>${countyRows}</tbody></table></div></div>` : ''}
    <div class="card"><h2>本月占比未达标的专柜</h2>
      <p class="muted">${esc(cp.period.from)} 至 ${esc(cp.period.to)}：有销售 <b data-testid="judged">${cp.judgedCabinets}</b> 台，达标 <b data-testid="compliant">${cp.compliantCabinets}</b> 台，未达标 <b class="${cp.belowCount ? 'bad' : ''}" data-testid="below-count">${cp.belowCount}</b> 台${cp.belowCount > cp.below.length ? `（列出占比最低的 ${cp.below.length} 台）` : ''}。<a href="#/compliance">查看明细</a></p>
      ${belowRows ? `<div class="table-wrap"><table data-testid="below"><thead><tr><th>专柜</th><th class="hide-sm">县区</th><th class="hide-sm">点位</th><th class="num">销售额</th><th class="num hide-sm">扶贫产品销售额</th><th class="num">占比</th></tr></thead><tbody>${belowRows}</tbody></table></div>` : ''}</div>
    <div class="card"><h2>目标进度</h2>${targetRows ? `<div class="table-wrap"><table data-testid="targets"><thead><tr><th>目标</th><th class="hide-sm">范围</th><th class="num">完成</th><th class="num">目标</th><th class="num hide-sm">按进度应完成</th><th class="num hide-sm">预计到期完成</th><th>截止</th><th>状态</th></tr></thead><tbody>${targetRows}</tbody></table></div>` : empty('计划未设置目标')}</div>
    <div class="card"><h2>向社会扶贫网上报 <a class="muted" href="#/forwarding">明细</a></h2><div class="kpis">${fwKpi('sent', ZH.labels.forwardingState.sent, f.sent)}${fwKpi('pending', ZH.labels.forwardingState.pending, f.pending)}${fwKpi('held', ZH.labels.forwardingState.held, f.held, true)}${fwKpi('failed', ZH.labels.forwardingState.failed, f.failed, true)}</div></div>`
}

/** The trend (amounts as bars, the share as a line against the threshold) and each county's share. */
async function drawHomeCharts(o) {
  const thresholdPct = o.thresholdBp / 100
  const thresholdLine = { silent: true, symbol: 'none', lineStyle: { color: '#c0392b', type: 'dashed' }, label: { formatter: `达标线 ${share(o.thresholdBp)}`, position: 'insideEndTop' }, data: [{ yAxis: thresholdPct }] }
  const pctOf = (f) => (f.amountFen > 0 ? bpOf(f.certifiedAmountFen, f.amountFen) / 100 : null)
  const el = document.getElementById('trend-chart')
  if (el) {
    await drawChart(el, {
      tooltip: { trigger: 'axis' },
      legend: { top: 0 },
      // Room under the legend for the axes' names (the legend wraps on a phone).
      grid: { left: 56, right: 44, top: 64, bottom: 30 },
      xAxis: { type: 'category', data: o.sales.daily.map((d) => d.date.slice(5)) },
      yAxis: [
        { type: 'value', name: '元' },
        { type: 'value', name: '占比%', min: 0, max: 100, splitLine: { show: false } },
      ],
      series: [
        { name: '销售额', type: 'bar', data: o.sales.daily.map((d) => d.amountFen / 100), itemStyle: { color: '#d5dae0' } },
        { name: '扶贫产品销售额', type: 'bar', data: o.sales.daily.map((d) => d.certifiedAmountFen / 100), itemStyle: { color: '#5d9cec' } },
        { name: '扶贫产品占比', type: 'line', yAxisIndex: 1, connectNulls: false, data: o.sales.daily.map(pctOf), itemStyle: { color: '#1e8449' }, markLine: thresholdLine },
      ],
    })
  }
  const ce = document.getElementById('county-chart')
  if (ce) {
    await drawChart(ce, {
      tooltip: { trigger: 'axis' },
      grid: { left: 44, right: 10, top: 24, bottom: 40 },
      xAxis: { type: 'category', data: o.sales.byCounty.map((c) => c.countyName), axisLabel: { interval: 0, rotate: o.sales.byCounty.length > 6 ? 30 : 0 } },
      yAxis: { type: 'value', name: '占比%', min: 0, max: 100 },
      series: [
        {
          name: '扶贫产品占比',
          type: 'bar',
          data: o.sales.byCounty.map((c) => ({ value: c.shareBp / 100, itemStyle: { color: c.amountFen > 0 && c.shareBp < o.thresholdBp ? '#c0392b' : '#1e8449' } })),
          markLine: thresholdLine,
        },
      ],
    })
  }
}

async function overview() {
  const [r, alerts, o] = await Promise.all([api('GET', '/rollout'), api('GET', '/alerts?state=open&limit=20'), overviewFigures()])
  const t = r.totals
  // An operator has no quota and the plan's milestones are the counties' (GET /rollout answers 0 and none).
  const hasQuota = r.scope?.kind !== 'operator'
  const kpi = (label, n, of, ofLabel = '占任务') =>
    `<div class="kpi"><div class="l">${esc(label)}</div><div class="n">${n.toLocaleString('zh-CN')}</div>${of !== undefined ? `<div class="muted">${ofLabel} ${pct(n, of)}%</div><div class="bar"><i style="width:${Math.min(100, pct(n, of))}%"></i></div>` : ''}</div>`
  // An operator's home is its company's, named so (GET /overview's scope); without it, the rollout's title as before.
  const title = o ? (o.scope.kind === 'operator' ? `${o.scope.name}（运营企业）总览` : `${o.scope.name} 总览`) : me.role === 'county' ? `${me.countyName ?? me.countyCode} 布设进度` : `${r.plan.region.name} 布设进度`
  const rows = r.counties
    .map((c) => {
      const n = c.next
      const next = n
        ? `<span class="badge ${n.state}">${MS_ZH[n.state]}</span> ${n.onTrack ? '<span class="ok">按期</span>' : `<span class="bad">落后</span>`} <span class="muted hide-sm">${n.projectedDate ? `预计 ${esc(n.projectedDate)}` : n.remaining ? '近期无进展' : ''}</span>`
        : hasQuota
          ? '<span class="badge met">全部完成</span>'
          : '—'
      return `<tr data-county="${esc(c.code)}"><td><a href="#/cabinets?county=${esc(c.code)}">${esc(c.name)}</a></td><td class="num">${hasQuota ? c.quota : '—'}</td><td class="num">${c.sitesAssigned}</td><td class="num">${c.installed}</td><td class="num">${c.operating}</td><td class="num">${c.online - c.onlineNotInstalled}</td><td>${next}</td></tr>`
    })
    .join('')
  const ms = r.milestones
    .map((m) => `<li data-milestone="${esc(m.id)}"><span class="badge ${m.state}">${MS_ZH[m.state]}</span> <b>${esc(m.date)}</b> ${esc(m.description)} <span class="muted">（${m.countiesMet}/${m.counties} 个县区达标）</span></li>`)
    .join('')
  const offline = alerts.alerts.filter((a) => a.kind === 'offline').length
  const behind = alerts.alerts.filter((a) => a.kind === 'behind_schedule')
  app.innerHTML = `
    <h1 data-testid="title">${esc(title)}</h1>
    ${homeFigures(o)}
    ${o ? '<h2>布设进度</h2>' : ''}
    <p class="muted">${esc(r.plan.name)} · 截至 ${esc(bj(r.asOf))}（北京时间）</p>
    <div class="kpis">
      ${hasQuota ? kpi('任务数', t.quota) : ''}${kpi('已定点', t.sitesAssigned, hasQuota ? t.quota : undefined)}${kpi('已安装', t.installed, hasQuota ? t.quota : undefined)}${kpi('运营中', t.operating, hasQuota ? t.quota : undefined)}${kpi('当前在线', t.online - t.onlineNotInstalled, t.installed || undefined, '占已安装')}
    </div>
    ${t.onlineNotInstalled ? `<p class="muted" data-testid="online-apart">另有 ${t.onlineNotInstalled} 台尚未安装（或已撤除）的专柜在线，未计入“当前在线”。</p>` : ''}
    ${hasQuota ? `<div class="card"><h2>节点目标</h2>${ms ? `<ul class="ms">${ms}</ul>` : empty('布设计划未设置节点目标')}</div>` : ''}
    <div class="card"><h2>${r.counties.length > 1 ? '各县区进度' : '县区进度'}</h2>${r.counties.length === 0 ? empty('您的范围内暂无专柜') : `<div id="chart" role="img" aria-label="各县区布设进度柱状图"></div>`}
      <div class="table-wrap"><table data-testid="counties"><thead><tr><th>县区</th><th class="num">任务</th><th class="num">定点</th><th class="num">安装</th><th class="num">运营</th><th class="num">在线</th><th>下一节点</th></tr></thead><tbody>${rows}</tbody></table></div>
    </div>
    <div class="card"><h2>告警</h2>
      ${alerts.total === 0 ? empty('暂无未处理告警') : `<p>离线超过 24 小时的专柜：<b class="bad">${offline}</b> 台；进度落后的县区：<b class="bad">${behind.length}</b> 个。<a href="#/alerts">查看全部 ${alerts.total} 条</a></p>`}
    </div>`
  if (o) await drawHomeCharts(o)
  const el = document.getElementById('chart')
  if (el && r.counties.length) {
    const names = r.counties.map((c) => c.name)
    await drawChart(el, {
      tooltip: { trigger: 'axis' },
      legend: { top: 0 },
      grid: { left: 40, right: 10, top: 36, bottom: 40 },
      xAxis: { type: 'category', data: names, axisLabel: { interval: 0, rotate: names.length > 6 ? 30 : 0 } },
      yAxis: { type: 'value' },
      series: [
        ...(hasQuota ? [{ name: '任务', type: 'bar', data: r.counties.map((c) => c.quota), itemStyle: { color: '#d5dae0' } }] : []),
        { name: '定点', type: 'bar', data: r.counties.map((c) => c.sitesAssigned), itemStyle: { color: '#e59866' } },
        { name: '安装', type: 'bar', data: r.counties.map((c) => c.installed), itemStyle: { color: '#5d9cec' } },
        { name: '运营', type: 'bar', data: r.counties.map((c) => c.operating), itemStyle: { color: '#1e8449' } },
      ],
    })
  }
}

async function cabinets(params) {
  const q = new URLSearchParams(params)
  const limit = 50
  const offset = Number(q.get('offset') ?? 0)
  const rollout = await api('GET', '/rollout')
  const apiQ = new URLSearchParams()
  for (const k of ['county', 'status', 'online', 'compliance']) if (q.get(k)) apiQ.set(k, q.get(k))
  apiQ.set('limit', String(limit))
  apiQ.set('offset', String(offset))
  const list = await api('GET', `/cabinets?${apiQ}`)
  const names = Object.fromEntries(rollout.counties.map((c) => [c.code, c.name]))
  const opt = (v, label, cur) => `<option value="${esc(v)}" ${cur === v ? 'selected' : ''}>${esc(label)}</option>`
  const countyOpts = rollout.counties.length > 1 ? `<select name="county" aria-label="县区">${opt('', '全部县区', q.get('county') ?? '')}${rollout.counties.map((c) => opt(c.code, c.name, q.get('county'))).join('')}</select>` : ''
  const rows = list.cabinets
    .map((c) => {
      const ratio = c.sales.amountFen > 0 ? `${pct(c.sales.certifiedAmountFen, c.sales.amountFen)}%` : '—'
      return `<tr data-cabinet="${esc(c.cabinetId)}"><td><a href="#/cabinet/${encodeURIComponent(c.cabinetId)}">${esc(c.cabinetId)}</a></td><td>${esc(names[c.countyCode] ?? c.countyCode)}</td><td>${esc(STATUS_ZH[c.status])}</td><td class="${c.online ? 'online' : 'offline'}">${c.online ? '在线' : '离线'}</td><td class="hide-sm">${esc(c.siteName ?? '—')}</td><td class="num">${ratio}</td><td class="hide-sm">${esc(bj(c.lastSeenAt))}</td></tr>`
    })
    .join('')
  app.innerHTML = `
    <h1>专柜列表</h1>
    <form class="filters" id="filters">
      ${countyOpts}
      <select name="status" aria-label="状态">${opt('', '全部状态', q.get('status') ?? '')}${Object.entries(STATUS_ZH).map(([k, v]) => opt(k, v, q.get('status'))).join('')}</select>
      <select name="online" aria-label="在线">${opt('', '在线/离线', q.get('online') ?? '')}${opt('true', '在线', q.get('online'))}${opt('false', '离线', q.get('online'))}</select>
      <select name="compliance" aria-label="合规">${opt('', '全部合规状态', q.get('compliance') ?? '')}${opt('compliant', '占比达标', q.get('compliance'))}${opt('noncompliant', '占比不足', q.get('compliance'))}${opt('nosales', '尚无销售', q.get('compliance'))}</select>
    </form>
    <p class="muted">共 <b data-testid="total">${list.total}</b> 台</p>
    ${list.total === 0 ? empty('没有符合条件的专柜') : `<div class="table-wrap"><table data-testid="cabinets"><thead><tr><th>编号</th><th>县区</th><th>状态</th><th>在线</th><th class="hide-sm">点位</th><th class="num">扶贫产品占比</th><th class="hide-sm">最后在线</th></tr></thead><tbody>${rows}</tbody></table></div>`}
    <div class="pager">${offset > 0 ? '<button type="button" id="prev">上一页</button>' : ''}${offset + limit < list.total ? '<button type="button" id="next">下一页</button>' : ''}<span class="muted">${list.total ? `${offset + 1}–${Math.min(offset + limit, list.total)}` : ''}</span></div>`
  const go = (over) => {
    const f = new FormData(document.getElementById('filters'))
    const next = new URLSearchParams()
    for (const [k, v] of f) if (v) next.set(k, v)
    for (const [k, v] of Object.entries(over)) if (v) next.set(k, v)
    location.hash = `#/cabinets?${next}`
  }
  document.getElementById('filters').addEventListener('change', () => go({}))
  document.getElementById('prev')?.addEventListener('click', () => go({ offset: String(Math.max(0, offset - limit)) }))
  document.getElementById('next')?.addEventListener('click', () => go({ offset: String(offset + limit) }))
}

async function cabinet(id) {
  const c = await api('GET', `/cabinets/${encodeURIComponent(id)}`)
  const [sales, history, telemetry] = await Promise.all([
    api('GET', `/cabinets/${encodeURIComponent(id)}/sales?afterSeq=${Math.max(0, c.sales.lastSeq - 20)}&limit=20`),
    api('GET', `/cabinets/${encodeURIComponent(id)}/transitions`),
    // The 运行状态 card (telemetry.js); the page still draws without it.
    api('GET', `/cabinets/${encodeURIComponent(id)}/telemetry?hours=24`).catch((e) => (e instanceof StaleError ? Promise.reject(e) : null)),
  ])
  const ratio = c.sales.amountFen > 0 ? `${pct(c.sales.certifiedAmountFen, c.sales.amountFen)}%` : '尚无销售'
  const saleRows = sales.sales
    .slice()
    .reverse()
    .map((s) => `<tr><td class="num">${s.seq}</td><td>${esc(bj(s.soldAt))}</td><td class="num">¥${yuan(s.totalFen)}</td><td class="hide-sm">${esc(s.lines.map((l) => `${l.sku}×${l.qty}`).join('，'))}</td></tr>`)
    .join('')
  const hist = history.transitions
    .map((t) => `<tr><td>${esc(bj(t.at))}</td><td>${esc(t.from ? STATUS_ZH[t.from] : '创建')} → ${esc(STATUS_ZH[t.to])}</td><td>${esc(t.by)}</td><td class="hide-sm">${esc(t.reason ?? '')}</td></tr>`)
    .join('')
  app.innerHTML = `
    <h1>专柜 ${esc(c.cabinetId)}</h1>
    <div class="card"><dl class="kv">
      <dt>状态</dt><dd>${esc(STATUS_ZH[c.status])}</dd>
      <dt>在线</dt><dd class="${c.online ? 'online' : 'offline'}">${c.online ? '在线' : '离线'}</dd>
      <dt>最后在线</dt><dd>${esc(bj(c.lastSeenAt))}</dd>
      <dt>最近心跳</dt><dd>${c.outbox ? `${esc(bj(c.outbox.at))}（待上传 ${c.outbox.pending} 笔）` : '尚未收到心跳'}</dd>
      <dt>点位</dt><dd>${esc(c.siteName ?? '未定点')}${c.venueType ? `（${esc(c.venueType)}）` : ''}${c.siteAddress ? ` · ${esc(c.siteAddress)}` : ''}</dd>
      <dt>运营企业</dt><dd>${esc(c.operator ?? '—')}</dd>
      <dt>累计销售</dt><dd>${c.sales.count} 笔 · ¥${yuan(c.sales.amountFen)}</dd>
      <dt>扶贫产品占比</dt><dd>${esc(ratio)}</dd>
      <dt>账本校验</dt><dd class="${c.chainStatus === 'ok' ? 'ok' : 'bad'}">${c.chainStatus === 'ok' ? '正常' : '发现篡改'}</dd>
    </dl></div>
    ${window.TelemetryCard.html(telemetry)}
    <div class="card"><h2>最近销售</h2>${saleRows ? `<div class="table-wrap"><table><thead><tr><th class="num">序号</th><th>时间</th><th class="num">金额</th><th class="hide-sm">商品</th></tr></thead><tbody>${saleRows}</tbody></table></div>` : empty('尚无销售记录')}</div>
    <div class="card"><h2>状态变更记录</h2>${hist ? `<div class="table-wrap"><table><thead><tr><th>时间</th><th>变更</th><th>操作人</th><th class="hide-sm">原因</th></tr></thead><tbody>${hist}</tbody></table></div>` : empty('暂无记录')}</div>
    ${mayActOn() ? `<div class="card" id="bootstrap"><h2>引导码</h2><p class="muted">专柜主板凭一次性引导码领取接入凭据；新引导码生成后，未使用的旧码即作废。</p><button type="button" class="primary" id="bootstrap-new">生成引导码</button><div id="bootstrap-out"></div><div class="error" id="bootstrap-error"></div></div>` : ''}
    <div class="card" id="stock"></div>
    <div class="card" id="commands"><h2>远程指令</h2><div id="command-list"></div>${mayActOn() ? commandForm() : ''}</div>`
  const telemetryChart = window.TelemetryCard.chartOption(telemetry)
  if (telemetryChart) await drawChart(document.getElementById('telemetry-chart'), telemetryChart)
  await Promise.all([drawCommands(c.cabinetId), window.stockUi.card(c.cabinetId)])
  document.getElementById('bootstrap-new')?.addEventListener('click', async () => {
    const err = document.getElementById('bootstrap-error')
    err.textContent = ''
    try {
      showBootstrapCode(await api('POST', `/cabinets/${encodeURIComponent(c.cabinetId)}/bootstrap-code`, {}))
    } catch (e) {
      actionError('bootstrap-error', e)
    }
  })
  const form = document.getElementById('command-form')
  if (!form) return
  const kindSel = form.elements.namedItem('kind')
  const togglePrice = () => { document.getElementById('price-fields').hidden = kindSel.value !== 'price' }
  kindSel.addEventListener('change', togglePrice)
  togglePrice()
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault()
    const out = document.getElementById('command-error')
    out.textContent = ''
    const f = new FormData(form)
    const body = { kind: String(f.get('kind')) }
    if (body.kind === 'price') {
      const priceFen = fenOf(f.get('price'))
      if (priceFen === null || Number.isNaN(priceFen)) {
        out.textContent = '请填写售价（元，至多两位小数）'
        return
      }
      body.params = { sku: String(f.get('sku') ?? '').trim(), priceFen }
    }
    const hours = String(f.get('expires') ?? '').trim()
    if (hours) {
      // Whole hours only: the server takes whole seconds and a fraction of an hour here would be a float.
      if (!/^\d{1,3}$/.test(hours) || Number(hours) < 1) {
        out.textContent = '有效期须为 1 以上的整数小时'
        return
      }
      body.expiresInS = Number(hours) * 3600
    }
    try {
      const r = await api('POST', `/cabinets/${encodeURIComponent(c.cabinetId)}/commands`, body)
      document.getElementById('command-sent').textContent = `已发送：${COMMAND_KIND_ZH[body.kind] ?? body.kind}（${COMMAND_STATE_ZH[r.state] ?? r.state}），${bj(r.expiresAt)} 前未送达即过期`
      await drawCommands(c.cabinetId)
    } catch (e) {
      actionError('command-error', e)
    }
  })
}

const COMMAND_KIND_ZH = ZH.labels.commandKind
const COMMAND_STATE_ZH = ZH.labels.commandState
// The dashboard sends the kinds that need no slot table; a planogram goes through the API or fleetctl.
const FORM_KINDS = ['price', 'catalog-refresh', 'sync', 'restart', 'lock', 'unlock']

/** Bootstrap codes and commands: the admin, the cabinet's county and its operator (the server decides; auditors only read). */
const mayActOn = () => me.role !== 'auditor'

function commandForm() {
  const opts = FORM_KINDS.map((k) => `<option value="${k}">${esc(COMMAND_KIND_ZH[k])}</option>`).join('')
  return `<form id="command-form" class="filters">
      <label>指令 <select name="kind">${opts}</select></label>
      <span id="price-fields"><label>SKU <input name="sku" autocomplete="off"></label> <label>售价（元） <input name="price" inputmode="decimal" autocomplete="off"></label></span>
      <label>有效期（小时） <input name="expires" inputmode="numeric" placeholder="24" size="4"></label>
      <button type="submit" class="primary">发送指令</button>
    </form><div class="error" id="command-error"></div><div class="ok" id="command-sent"></div>`
}

function commandResultText(r) {
  if (!r) return ''
  if (typeof r.message === 'string') return r.code ? `${r.message}（${r.code}）` : r.message
  return Object.entries(r).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`).join('，')
}

function commandParamsText(c) {
  if (c.kind === 'price' && typeof c.params.priceFen === 'number') return `${c.params.sku} → ¥${yuan(c.params.priceFen)}`
  if (c.kind === 'planogram' && Array.isArray(c.params.slots)) return `${c.params.slots.length} 个货道`
  if (c.kind === 'restock') return c.params.fill === true ? '全部补至标准库存' : Array.isArray(c.params.slots) ? `${c.params.slots.length} 个货道` : ''
  return ''
}

async function drawCommands(cabinetId) {
  const list = await api('GET', `/cabinets/${encodeURIComponent(cabinetId)}/commands?limit=50`)
  const rows = list.commands
    .map((c) => {
      const cls = c.state === 'done' ? 'ok' : c.state === 'failed' || c.state === 'expired' ? 'bad' : 'due'
      return `<tr data-command="${esc(c.commandId)}"><td>${esc(COMMAND_KIND_ZH[c.kind] ?? c.kind)}</td><td class="hide-sm">${esc(commandParamsText(c))}</td><td>${esc(c.sentBy)}（${esc(roleZh(c.sentRole))}）</td><td>${esc(bj(c.issuedAt))}</td><td class="${cls}" data-state="${esc(c.state)}">${esc(COMMAND_STATE_ZH[c.state] ?? c.state)}</td><td class="wrap">${esc(commandResultText(c.result))}</td></tr>`
    })
    .join('')
  document.getElementById('command-list').innerHTML = rows
    ? `<div class="table-wrap"><table data-testid="commands"><thead><tr><th>指令</th><th class="hide-sm">参数</th><th>发送人</th><th>发送时间</th><th>状态</th><th>结果</th></tr></thead><tbody>${rows}</tbody></table></div>`
    : empty('尚未发送过指令')
}

function showBootstrapCode(r) {
  const line = `npm run edge-agent -- enroll --code ${r.code} --http ${location.origin} --data /var/lib/fupin-edge-agent`
  // The SVG comes from our server (rendered from the code alone); as a data: image it runs no script.
  const qr = r.qrSvg ? `<img class="qr" data-testid="bootstrap-qr" alt="引导码二维码" src="data:image/svg+xml;base64,${window.btoa(r.qrSvg)}">` : ''
  document.getElementById('bootstrap-out').innerHTML = `
    <div class="bootstrap-code" data-testid="bootstrap-code">${esc(r.code)}</div>
    <p>有效期至 <span data-testid="bootstrap-expires">${esc(bj(r.expiresAt))}</span>（北京时间），仅可使用一次。</p>
    <p class="muted">在专柜主板上执行：</p><pre class="cmdline" data-testid="bootstrap-cmd">${esc(line)}</pre>${qr}`
}

async function alertsView(params) {
  const q = new URLSearchParams(params)
  const state = q.get('state') ?? 'open'
  const list = await api('GET', `/alerts?state=${encodeURIComponent(state)}&limit=200`)
  const canAck = me.role !== 'auditor'
  // A tampered ledger is judged by the city or the cabinet's county (POST /cabinets/:id/tamper/resolve).
  const canJudge = me.role === 'admin' || me.role === 'county'
  const rows = list.alerts
    .map(
      (a) =>
        `<tr data-alert="${esc(a.alertId)}"><td><span class="badge ${a.severity}">${esc(SEV_ZH[a.severity])}</span></td><td>${esc(KIND_ZH[a.kind] ?? a.kind)}</td><td style="white-space:normal">${a.cabinetId ? `<a href="#/cabinet/${encodeURIComponent(a.cabinetId)}">${esc(a.message)}</a>` : esc(a.message)}</td><td class="hide-sm">${esc(bj(a.raisedAt))}</td><td>${a.clearedAt ? '已恢复' : a.ackedAt ? `已确认（${esc(a.ackedBy)}）` : canAck ? `<button type="button" data-ack="${esc(a.alertId)}">确认</button>` : '未确认'}${!a.clearedAt && a.kind === 'ledger_tampered' && canJudge ? ` <button type="button" data-tamper="${esc(a.cabinetId)}">核查后解除</button>` : ''}</td></tr>`,
    )
    .join('')
  const opt = (v, label) => `<option value="${v}" ${state === v ? 'selected' : ''}>${label}</option>`
  app.innerHTML = `
    <h1>告警</h1>
    <form class="filters"><select id="state" aria-label="范围">${opt('open', '未恢复')}${opt('unacked', '未确认')}${opt('all', '全部')}</select></form>
    ${list.total === 0 ? empty('暂无告警') : `<div class="table-wrap"><table data-testid="alerts"><thead><tr><th>级别</th><th>类型</th><th>内容</th><th class="hide-sm">发生时间</th><th>处理</th></tr></thead><tbody>${rows}</tbody></table></div>`}`
  document.getElementById('state').addEventListener('change', (e) => (location.hash = `#/alerts?state=${e.target.value}`))
  for (const b of app.querySelectorAll('button[data-ack]')) {
    b.addEventListener('click', async () => {
      try {
        await api('POST', `/alerts/${encodeURIComponent(b.dataset.ack)}/ack`)
        await alertsView(params)
      } catch (err) {
        showError(err)
      }
    })
  }
  for (const b of app.querySelectorAll('button[data-tamper]')) {
    b.addEventListener('click', async () => {
      const note = window.prompt(`专柜 ${b.dataset.tamper} 的账本篡改标记：请填写核查结论（必填）`)
      if (!note || !note.trim()) return
      try {
        await api('POST', `/cabinets/${encodeURIComponent(b.dataset.tamper)}/tamper/resolve`, { note: note.trim() })
        b.replaceWith(Object.assign(document.createElement('span'), { className: 'ok', textContent: '已解除，告警将在下次评估时恢复' }))
      } catch (err) {
        showError(err)
      }
    })
  }
}

/** The last whole period of a kind before today (Asia/Shanghai): what an official usually wants. */
function lastPeriod(kind) {
  const today = new Date(Date.now() + 8 * 3600_000)
  const y = today.getUTCFullYear()
  const m = today.getUTCMonth() // 0-based
  if (kind === 'monthly') return m === 0 ? `${y - 1}-12` : `${y}-${String(m).padStart(2, '0')}`
  if (kind === 'quarterly') {
    const q = Math.floor(m / 3) // the current quarter, 0-based: the last whole one is q - 1
    return q === 0 ? `${y - 1}-Q4` : `${y}-Q${q}`
  }
  // ISO week of the day a week ago: the Thursday of its week names the year.
  const d = new Date(Date.UTC(y, m, today.getUTCDate() - 7))
  d.setUTCDate(d.getUTCDate() + 3 - ((d.getUTCDay() + 6) % 7))
  const week1 = new Date(Date.UTC(d.getUTCFullYear(), 0, 4))
  const w = 1 + Math.round((d - week1) / 86_400_000 / 7 - 3 / 7 + ((week1.getUTCDay() + 6) % 7) / 7)
  return `${d.getUTCFullYear()}-W${String(w).padStart(2, '0')}`
}

async function reportsView() {
  const cityWide = me.role === 'admin' || me.role === 'auditor'
  const [list, rollout] = await Promise.all([api('GET', '/reports'), cityWide ? api('GET', '/rollout') : null])
  const file = (r, format, label) => `<a href="/api/v1/reports/${encodeURIComponent(r.reportId)}?format=${format}" download>${label}</a>`
  const rows = list.reports
    .map(
      (r) =>
        `<tr data-report="${esc(r.reportId)}"><td>${esc(REPORT_KIND_ZH[r.kind] ?? r.kind)}</td><td>${esc(r.period)}</td><td>${esc(r.scopeName)}</td><td class="hide-sm">${esc(bj(r.createdAt))}</td><td class="hide-sm">${r.createdBy === 'system' ? '定时生成' : esc(r.createdBy)}</td><td><a href="#/report/${encodeURIComponent(r.reportId)}">预览</a> · ${file(r, 'xlsx', 'Excel')} · ${file(r, 'csv', 'CSV')}</td></tr>`,
    )
    .join('')
  const counties = rollout ? rollout.counties.map((c) => `<option value="${esc(c.code)}">${esc(c.name)}</option>`).join('') : ''
  app.innerHTML = `
    <h1>报表</h1>
    <form class="card filters" id="new-report">
      <select name="kind" aria-label="类型"><option value="weekly">周报</option><option value="monthly" selected>月报</option><option value="quarterly">季报</option></select>
      <input name="period" aria-label="期间" value="${esc(lastPeriod('monthly'))}" required>
      ${cityWide ? `<select name="county" aria-label="范围"><option value="">全市</option>${counties}</select>` : ''}
      <button class="primary" type="submit">生成报表</button>
      <div class="error" id="report-error"></div>
    </form>
    ${rows ? `<div class="table-wrap"><table data-testid="reports"><thead><tr><th>类型</th><th>期间</th><th>范围</th><th class="hide-sm">生成时间</th><th class="hide-sm">生成人</th><th>下载</th></tr></thead><tbody>${rows}</tbody></table></div>` : empty('暂无报表。系统按计划自动生成周报、月报和季报，也可在上方手动生成。')}`
  const form = document.getElementById('new-report')
  form.elements.kind.addEventListener('change', (e) => (form.elements.period.value = lastPeriod(e.target.value)))
  form.addEventListener('submit', async (e) => {
    e.preventDefault()
    const f = new FormData(form)
    const body = { kind: f.get('kind'), period: String(f.get('period')).trim() }
    if (f.get('county')) body.county = f.get('county')
    try {
      await api('POST', '/reports', body)
      await reportsView()
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return renderLogin()
      document.getElementById('report-error').textContent = err.message
    }
  })
}

/**
 * A report's preview (issue 15): its stored JSON document (GET /reports/:id)
 * as summary figures, the per-county table, the counties' certified shares
 * against the threshold line, targets and catalog figures, with the files.
 */
async function reportPreview(id) {
  const d = await api('GET', `/reports/${encodeURIComponent(id)}`)
  const t = d.totals
  const file = (format, label) => `<a href="/api/v1/reports/${encodeURIComponent(d.reportId)}?format=${format}" download>${label}</a>`
  const shareCls = (x) => (x.amountFen > 0 && x.shareBp < d.threshold.bp ? 'bad' : 'ok')
  const countyRows = d.counties
    .map(
      (c) =>
        `<tr data-county="${esc(c.code)}"><td>${esc(c.name)}</td><td class="num hide-sm">${c.rollout.quota}</td><td class="num hide-sm">${c.rollout.installed}</td><td class="num">${c.rollout.operating}</td><td class="num">${c.sales.salesCount}</td><td class="num">¥${yuan(c.sales.amountFen)}</td><td class="num hide-sm">¥${yuan(c.sales.certifiedAmountFen)}</td><td class="num ${shareCls(c.sales)}">${share(c.sales.shareBp)}</td><td class="num">${c.sales.compliantCabinets}/${c.sales.judgedCabinets}</td><td class="num hide-sm">${c.forwarding.held}</td></tr>`,
    )
    .join('')
  const targetRows = (d.targets ?? [])
    .map(
      (x) =>
        `<tr data-target="${esc(x.id)}"><td class="wrap">${esc(x.description)}</td><td class="hide-sm">${esc(x.scope.name)}</td><td class="num">${esc(fenOrCount(x.actual, x.unit))}</td><td class="num">${esc(fenOrCount(x.target, x.unit))}<div class="bar"><i style="width:${x.target > 0 ? Math.min(100, pct(x.actual, x.target)) : 0}%"></i></div></td><td class="num hide-sm">${esc(fenOrCount(x.expectedByNow, x.unit))}</td><td class="num hide-sm">${esc(fenOrCount(x.projected, x.unit))}</td><td>${esc(x.dueDate)}</td><td><span class="badge ${x.state}">${esc(MS_ZH[x.state] ?? x.state)}</span> ${x.state === 'met' ? '' : x.onTrack ? '<span class="ok">按期</span>' : '<span class="bad">落后</span>'}</td></tr>`,
    )
    .join('')
  const cat = d.catalog
  const catalogRows = cat
    ? cat.counties
        .map((c) => `<tr data-catalog="${esc(c.code)}"><td>${esc(c.name)}</td><td class="num">${c.certifiedProducts}</td><td class="num">${c.certifiedProductsTarget ?? '—'}</td><td class="num">${c.expiringCertificates}</td><td class="num">${c.inPublicity}</td></tr>`)
        .join('')
    : ''
  app.innerHTML = `
    <p><a href="#/reports">← 报表</a></p>
    <h1 data-testid="report-title">${esc(d.title)}</h1>
    <p class="muted">统计期间 <b data-testid="report-range">${esc(d.from)} 至 ${esc(d.to)}</b> · 范围 ${esc(d.scopeName)} · 生成于 ${esc(bj(d.createdAt))}${d.isComplete ? '' : ' · <span class="due">期间未结束</span>'} · 达标线 <b data-testid="report-threshold">${share(d.threshold.bp)}</b> · 下载 ${file('xlsx', 'Excel')} · ${file('csv', 'CSV')}</p>
    <div class="kpis">
      <div class="kpi"><div class="l">销售额</div><div class="n" data-testid="report-amount">¥${yuan(t.sales.amountFen)}</div><div class="muted"><span data-testid="report-count">${t.sales.salesCount}</span> 笔</div></div>
      <div class="kpi"><div class="l">扶贫产品销售额</div><div class="n" data-testid="report-certified">¥${yuan(t.sales.certifiedAmountFen)}</div><div class="muted">占比 <span data-testid="report-share">${share(t.sales.shareBp)}</span></div></div>
      <div class="kpi"><div class="l">达标专柜 / 参评专柜</div><div class="n" data-testid="report-compliant">${t.sales.compliantCabinets}/${t.sales.judgedCabinets}</div></div>
      <div class="kpi"><div class="l">运营中 / 任务数</div><div class="n" data-testid="report-operating">${t.rollout.operating}/${t.rollout.quota}</div></div>
      <div class="kpi"><div class="l">暂缓上报</div><div class="n" data-testid="report-held">${t.forwarding.held}</div></div>
    </div>
    <div class="card"><h2>各县区扶贫产品占比</h2><div id="report-chart" class="chart"></div></div>
    <div class="card"><h2>各县区</h2><div class="table-wrap"><table data-testid="report-counties"><thead><tr><th>县区</th><th class="num hide-sm">任务数</th><th class="num hide-sm">已安装</th><th class="num">运营中</th><th class="num">销售笔数</th><th class="num">销售额</th><th class="num hide-sm">扶贫产品销售额</th><th class="num">占比</th><th class="num">达标/参评</th><th class="num hide-sm">暂缓上报</th></tr></thead><tbody>${countyRows}</tbody></table></div></div>
    <div class="card"><h2>目标进度${d.targetsAsOf ? `<span class="muted">（截至 ${esc(d.targetsAsOf)}）</span>` : ''}</h2>${targetRows ? `<div class="table-wrap"><table data-testid="report-targets"><thead><tr><th>目标</th><th class="hide-sm">范围</th><th class="num">完成</th><th class="num">目标</th><th class="num hide-sm">按进度应完成</th><th class="num hide-sm">预计到期完成</th><th>截止</th><th>状态</th></tr></thead><tbody>${targetRows}</tbody></table></div>` : empty(d.targets ? '计划未设置本范围的目标' : '本报表生成时尚无目标数据')}</div>
    ${cat ? `<div class="card"><h2>扶贫产品目录<span class="muted">（截至 ${esc(cat.asOf)}）</span></h2><div class="table-wrap"><table data-testid="report-catalog"><thead><tr><th>县区</th><th class="num">认定扶贫产品</th><th class="num">计划目标</th><th class="num">${cat.expiringWithinDays} 日内到期证书</th><th class="num">公示中申请</th></tr></thead><tbody>${catalogRows}</tbody></table></div></div>` : ''}`
  const thresholdPct = d.threshold.bp / 100
  await drawChart(document.getElementById('report-chart'), {
    tooltip: { trigger: 'axis' },
    grid: { left: 44, right: 10, top: 24, bottom: 40 },
    xAxis: { type: 'category', data: d.counties.map((c) => c.name), axisLabel: { interval: 0, rotate: d.counties.length > 6 ? 30 : 0 } },
    yAxis: { type: 'value', name: '占比%', min: 0, max: 100 },
    series: [
      {
        name: '扶贫产品占比',
        type: 'bar',
        data: d.counties.map((c) => ({ value: c.sales.shareBp / 100, itemStyle: { color: shareCls(c.sales) === 'bad' ? '#c0392b' : '#1e8449' } })),
        markLine: { silent: true, symbol: 'none', lineStyle: { color: '#c0392b', type: 'dashed' }, label: { formatter: `达标线 ${share(d.threshold.bp)}`, position: 'insideEndTop' }, data: [{ yAxis: thresholdPct }] },
      },
    ],
  })
}

// ── shared helpers of the pages below ─────────────────────────────────────

const HOLD_ZH = ZH.labels.holdReason
const CERT_STATUS_ZH = ZH.labels.certStatus
const CERT_LEVEL_ZH = ZH.labels.certLevel
const BATCH_KIND_ZH = ZH.labels.batchKind
const share = ZH.percentBpZh
/** Certified share in basis points, rounded down like the server's shareBp. */
const bpOf = (certifiedFen, amountFen) => (amountFen > 0 ? Math.floor((certifiedFen * 10000) / amountFen) : 0)
const monthOf = (day) => day.slice(0, 7)
/** First and last day of a YYYY-MM month. */
function monthRange(month) {
  const [y, m] = month.split('-').map(Number)
  const last = new Date(Date.UTC(y, m, 0)).getUTCDate()
  return { from: `${month}-01`, to: `${month}-${String(last).padStart(2, '0')}` }
}

// County names come from the rollout plan (the caller's scope), and "today" from
// the server's clock (what its periods are judged by); cached per login.
async function planInfo() {
  planInfoCache ??= api('GET', '/rollout').then((r) => ({
    names: Object.fromEntries(r.counties.map((c) => [c.code, c.name])),
    today: new Date(Date.parse(r.asOf) + 8 * 3600_000).toISOString().slice(0, 10),
  }))
  return planInfoCache
}

/** A CSV file (UTF-8 with BOM, so Excel reads the Chinese headers) downloaded from the page itself. */
function downloadCsv(filename, header, rows) {
  const cell = (v) => {
    const s = String(v ?? '')
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
  }
  const text = `\uFEFF${[header, ...rows].map((r) => r.map(cell).join(',')).join('\r\n')}\r\n`
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }))
  const a = document.createElement('a')
  a.href = url
  a.download = filename
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 60_000)
}
/** Money in a CSV cell: 元 with two decimals and no separators, so a spreadsheet reads a number. */
const yuanCell = (fen) => yuan(fen).replace(/,/g, '')

/** Draws a chart into `el` unless the user has moved on meanwhile; charts live until the next navigation. */
async function drawChart(el, option) {
  const seq = routeSeq
  const ec = await loadECharts()
  if (!el.isConnected || seq !== routeSeq) return null
  const c = ec.init(el, null, { renderer: 'canvas' })
  c.setOption({ animation: false, ...option })
  charts.push(c)
  return c
}

/** A month period id (YYYY-MM) overlapping [from, to]; other period kinds have their own from/to. */
const monthOverlaps = (period, from, to) => /^\d{4}-\d{2}$/.test(period) && monthRange(period).from <= to && monthRange(period).to >= from

// ── compliance ────────────────────────────────────────────────────────────

async function complianceView(params) {
  const q = new URLSearchParams(params)
  const from = q.get('from') ?? ''
  const to = q.get('to') ?? ''
  const isRange = Boolean(from && to)
  const { names, today } = await planInfo()
  const month = q.get('period') ?? monthOf(today)
  const county = q.get('county') ?? ''
  const apiQ = new URLSearchParams(isRange ? { from, to } : { period: month })
  if (county) apiQ.set('county', county)
  const [c, fw] = await Promise.all([api('GET', `/compliance?${apiQ}`), api('GET', '/forwarding?receipts=true')])
  const countyName = (code) => names[code] ?? code

  // Forwarding's view of each cabinet in the period: held (why), failed or retrying.
  const fwState = new Map()
  const note = (id, s) => fwState.set(id, [...(fwState.get(id) ?? []), s])
  for (const h of fw.held) if (h.from <= c.to && h.to >= c.from) note(h.cabinetId, { cls: 'bad', text: `暂缓上报：${HOLD_ZH[h.reason] ?? h.reason}（${h.period}）` })
  for (const b of [...fw.failed, ...fw.corrections.failed]) if (monthOverlaps(b.period, c.from, c.to)) note(b.cabinetId, { cls: 'bad', text: `上报失败（${b.period}）` })
  for (const b of fw.retrying) if (monthOverlaps(b.period, c.from, c.to)) note(b.cabinetId, { cls: 'due', text: `重试中（${b.period}）` })
  // The newest delivered batches (the API lists a few hundred): a report of the period among them is "sent".
  for (const b of fw.sentBatches ?? []) if (b.kind === 'report' && monthOverlaps(b.period, c.from, c.to)) note(b.cabinetId, { cls: 'ok', text: `已上报（${b.period}）` })
  const fwText = (id) => (fwState.get(id) ?? [{ cls: 'muted', text: '无暂缓' }])

  const byCounty = new Map()
  for (const r of c.cabinets) {
    const g = byCounty.get(r.countyCode) ?? { code: r.countyCode, cabinets: 0, compliant: 0, amountFen: 0, certifiedAmountFen: 0, held: 0 }
    g.cabinets++
    if (r.compliant) g.compliant++
    g.amountFen += r.amountFen
    g.certifiedAmountFen += r.certifiedAmountFen
    if (fwState.get(r.cabinetId)?.some((s) => s.text.startsWith('暂缓'))) g.held++
    byCounty.set(r.countyCode, g)
  }
  const countyRows = [...byCounty.values()]
    .sort((a, b) => a.code.localeCompare(b.code))
    .map((g) => {
      const bp = bpOf(g.certifiedAmountFen, g.amountFen)
      return `<tr data-county="${esc(g.code)}"><td>${esc(countyName(g.code))}</td><td class="num">${g.cabinets}</td><td class="num">${g.compliant}</td><td class="num">¥${yuan(g.amountFen)}</td><td class="num hide-sm">¥${yuan(g.certifiedAmountFen)}</td><td class="num ${bp < c.thresholdBp ? 'bad' : 'ok'}">${share(bp)}</td><td class="num hide-sm">${g.held}</td></tr>`
    })
    .join('')
  const cabRows = c.cabinets
    .slice()
    .sort((a, b) => Number(a.compliant) - Number(b.compliant) || a.shareBp - b.shareBp || a.cabinetId.localeCompare(b.cabinetId))
    .map(
      (r) =>
        `<tr data-cabinet="${esc(r.cabinetId)}" class="${r.compliant ? '' : 'below'}"><td><a href="#/cabinet/${encodeURIComponent(r.cabinetId)}">${esc(r.cabinetId)}</a></td><td class="hide-sm">${esc(countyName(r.countyCode))}</td><td class="num">¥${yuan(r.amountFen)}</td><td class="num hide-sm">¥${yuan(r.certifiedAmountFen)}</td><td class="num ${r.compliant ? 'ok' : 'bad'}">${share(r.shareBp)}</td><td><span class="badge ${r.compliant ? 'ok' : 'bad'}">${r.compliant ? '达标' : '未达标'}</span></td><td class="fw">${fwText(r.cabinetId).map((s) => `<span class="${s.cls}">${esc(s.text)}</span>`).join('<br>')}</td></tr>`,
    )
    .join('')
  const s = c.summary
  const opt = (v, label, cur) => `<option value="${esc(v)}" ${cur === v ? 'selected' : ''}>${esc(label)}</option>`
  const countyOpts = Object.keys(names).length > 1 ? `<select name="county" aria-label="县区">${opt('', '全部县区', county)}${Object.entries(names).map(([k, v]) => opt(k, v, county)).join('')}</select>` : ''
  app.innerHTML = `
    <h1>扶贫产品销售占比</h1>
    <form class="filters" id="filters">
      <label>月份 <input type="month" name="period" value="${esc(isRange ? '' : month)}"></label>
      <label>或 自 <input type="date" name="from" value="${esc(from)}"></label><label>至 <input type="date" name="to" value="${esc(to)}"></label>
      ${countyOpts}
      <button type="submit" class="primary">查询</button>
      <button type="button" id="export" ${c.cabinets.length ? '' : 'disabled'}>导出 CSV</button>
    </form>
    <p class="muted">期间 <b data-testid="range">${esc(c.from)} 至 ${esc(c.to)}</b> · 达标线 <b data-testid="threshold">${share(c.thresholdBp)}</b>（按销售金额计）</p>
    <div class="kpis">
      <div class="kpi"><div class="l">有销售的专柜</div><div class="n" data-testid="cabinets">${s.cabinets}</div></div>
      <div class="kpi"><div class="l">达标专柜</div><div class="n" data-testid="compliant">${s.compliant}</div></div>
      <div class="kpi"><div class="l">销售额</div><div class="n" data-testid="amount">¥${yuan(s.amountFen)}</div></div>
      <div class="kpi"><div class="l">扶贫产品销售额</div><div class="n" data-testid="certified">¥${yuan(s.certifiedAmountFen)}</div><div class="muted">占比 <span data-testid="share">${share(bpOf(s.certifiedAmountFen, s.amountFen))}</span></div></div>
    </div>
    ${c.cabinets.length === 0 ? empty('该期间没有销售') : `
    <div class="card"><h2>各县区</h2><div class="table-wrap"><table data-testid="compliance-counties"><thead><tr><th>县区</th><th class="num">专柜</th><th class="num">达标</th><th class="num">销售额</th><th class="num hide-sm">扶贫产品销售额</th><th class="num">占比</th><th class="num hide-sm">暂缓上报</th></tr></thead><tbody>${countyRows}</tbody></table></div></div>
    <div class="card"><h2>各专柜（未达标在前）</h2><div class="table-wrap"><table data-testid="compliance-cabinets"><thead><tr><th>专柜</th><th class="hide-sm">县区</th><th class="num">销售额</th><th class="num hide-sm">扶贫产品销售额</th><th class="num">占比</th><th>是否达标</th><th>上报</th></tr></thead><tbody>${cabRows}</tbody></table></div></div>`}`
  const form = document.getElementById('filters')
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    const f = new FormData(form)
    const next = new URLSearchParams()
    if (f.get('from') && f.get('to')) {
      next.set('from', f.get('from'))
      next.set('to', f.get('to'))
    } else if (f.get('period')) next.set('period', f.get('period'))
    if (f.get('county')) next.set('county', f.get('county'))
    location.hash = `#/compliance?${next}`
  })
  document.getElementById('export').addEventListener('click', () => {
    const header = ['期间起', '期间止', '县区', '专柜编号', '销售额（元）', '扶贫产品销售额（元）', '扶贫产品占比', '达标线', '是否达标', '上报情况']
    const rows = c.cabinets.map((r) => [c.from, c.to, countyName(r.countyCode), r.cabinetId, yuanCell(r.amountFen), yuanCell(r.certifiedAmountFen), share(r.shareBp), share(c.thresholdBp), r.compliant ? '达标' : '未达标', fwText(r.cabinetId).map((x) => x.text).join('；')])
    downloadCsv(`扶贫产品占比_${c.from}_${c.to}.csv`, header, rows)
  })
}

// ── forwarding to 社会扶贫网 ──────────────────────────────────────────────

function holdDetail(h) {
  const d = h.details ?? {}
  if (h.reason === 'NOT_COMPLIANT') return `占比 ${share(d.shareBp ?? 0)}，低于 ${share(d.thresholdBp ?? 0)}`
  if (h.reason === 'INCOMPLETE_SYNC') return `已同步至 ${bj(d.syncedThrough)}${d.pending ? `，专柜待上传 ${d.pending} 笔` : ''}`
  if (h.reason === 'SALE_ID_REUSED') return `${Array.isArray(d.flags) ? d.flags.length : 0} 笔待核查`
  if (h.reason === 'CHAIN_BROKEN') return '账本校验不通过'
  return ''
}

async function forwardingView() {
  const [fw, { names }] = await Promise.all([api('GET', '/forwarding?receipts=true'), planInfo()])
  // Amounts of the held periods (NOT_COMPLIANT carries them; the others from the compliance query, one per distinct period).
  const ranges = [...new Map(fw.held.map((h) => [`${h.from}~${h.to}`, h])).values()].slice(0, 12)
  const figures = new Map()
  const replies = await Promise.all(ranges.map((h) => api('GET', `/compliance?from=${h.from}&to=${h.to}`).catch(() => null)))
  ranges.forEach((h, i) => {
    for (const r of replies[i]?.cabinets ?? []) figures.set(`${r.cabinetId}|${h.from}~${h.to}`, r)
  })
  const isAdmin = me.role === 'admin'
  const heldRows = fw.held
    .map((h) => {
      const f = figures.get(`${h.cabinetId}|${h.from}~${h.to}`)
      const amount = h.details?.amountFen ?? f?.amountFen
      const certified = h.details?.certifiedAmountFen ?? f?.certifiedAmountFen
      const county = f?.countyCode
      return `<tr data-held="${esc(h.cabinetId)}|${esc(h.period)}"><td><a href="#/cabinet/${encodeURIComponent(h.cabinetId)}">${esc(h.cabinetId)}</a></td><td>${esc(county ? (names[county] ?? county) : '—')}</td><td>${esc(h.period)}</td><td class="bad">${esc(HOLD_ZH[h.reason] ?? h.reason)}</td><td class="num">${amount === undefined ? '—' : `¥${yuan(amount)}`}</td><td class="num">${certified === undefined ? '—' : `¥${yuan(certified)}`}</td><td class="hide-sm">${esc(holdDetail(h))}</td></tr>`
    })
    .join('')
  const failed = [...fw.failed, ...fw.corrections.failed]
  const failedRows = failed
    .map(
      (b) =>
        `<tr data-failed="${esc(b.batchKey)}"><td>${esc(b.cabinetId)}</td><td>${esc(b.period)}</td><td>${esc(BATCH_KIND_ZH[b.kind] ?? b.kind)}</td><td class="num">${b.status ?? '—'}</td><td class="hide-sm wrap">${esc(b.message)}</td><td>${isAdmin ? `<button type="button" data-retry="${esc(b.batchKey)}">重新上报</button>` : ''}</td></tr>`,
    )
    .join('')
  const retryingRows = fw.retrying
    .map((b) => `<tr data-retrying="${esc(b.batchKey)}"><td>${esc(b.cabinetId)}</td><td>${esc(b.period)}</td><td>${esc(BATCH_KIND_ZH[b.kind] ?? b.kind)}</td><td class="num">${b.attempts}</td><td class="num">${b.status ?? '—'}</td><td class="hide-sm wrap">${esc(b.message)}</td></tr>`)
    .join('')
  const receipt = (b) =>
    b.status === 409 ? `平台已有此批次（HTTP 409，重复不计），${b.records} 条记录` : `平台已接收 ${b.records} 条记录（HTTP ${b.status ?? '—'}）`
  const sent = fw.sentBatches ?? []
  const sentRows = sent
    .map(
      (b) =>
        `<tr data-sent="${esc(b.batchKey)}"><td>${esc(b.cabinetId)}</td><td>${esc(b.period)}</td><td>${esc(BATCH_KIND_ZH[b.kind] ?? b.kind)}</td><td>${esc(bj(b.deliveredAt))}</td><td class="wrap">${esc(receipt(b))}</td><td class="num hide-sm">${b.attempts}</td><td class="hide-sm muted">${esc(b.batchKey)}</td></tr>`,
    )
    .join('')
  const kpi = (id, label, n, cls = '') => `<div class="kpi"><div class="l">${esc(label)}</div><div class="n ${cls}" data-testid="${id}">${n}</div></div>`
  app.innerHTML = `
    <h1>向社会扶贫网上报</h1>
    <p class="muted">按专柜、按月评判后上报；最近一次评判 ${esc(bj(fw.lastRunAt))}（北京时间）${fw.platformConfigured ? '' : ' · <span class="bad">未配置上报地址，批次在队列中等待</span>'}</p>
    <div class="kpis">
      ${kpi('sent', ZH.labels.forwardingState.sent, fw.sent, 'ok')}${kpi('pending', ZH.labels.forwardingState.pending, fw.pending)}${kpi('held', ZH.labels.forwardingState.held, fw.held.length, fw.held.length ? 'bad' : '')}${kpi('failed', ZH.labels.forwardingState.failed, failed.length, failed.length ? 'bad' : '')}
    </div>
    <p class="muted">更正批次：已上报 ${fw.corrections.sent}，待上报 ${fw.corrections.pending}，失败 ${fw.corrections.failed.length}。</p>
    ${isAdmin ? '<p><button type="button" id="run" class="primary">立即评判并上报</button> <span id="fw-msg" class="muted"></span></p>' : ''}
    <div class="card"><h2>暂缓上报（原因与金额）</h2>${heldRows ? `<div class="table-wrap"><table data-testid="held-periods"><thead><tr><th>专柜</th><th>县区</th><th>期间</th><th>原因</th><th class="num">销售额</th><th class="num">扶贫产品销售额</th><th class="hide-sm">说明</th></tr></thead><tbody>${heldRows}</tbody></table></div>` : empty('没有暂缓上报的专柜期间')}</div>
    <div class="card"><h2>上报失败</h2>${failedRows ? `<div class="table-wrap"><table data-testid="failed-batches"><thead><tr><th>专柜</th><th>期间</th><th>类型</th><th class="num">平台应答</th><th class="hide-sm">信息</th><th></th></tr></thead><tbody>${failedRows}</tbody></table></div>` : empty('没有上报失败的批次')}</div>
    <div class="card"><h2>已上报批次与回执</h2>${sentRows ? `${sent.length < fw.sent + fw.corrections.sent ? `<p class="muted">最近送达的 ${sent.length} 个批次。</p>` : ''}<div class="table-wrap"><table data-testid="sent-batches"><thead><tr><th>专柜</th><th>期间</th><th>类型</th><th>送达时间</th><th>回执</th><th class="num hide-sm">尝试次数</th><th class="hide-sm">批次编号</th></tr></thead><tbody>${sentRows}</tbody></table></div>` : empty('尚无送达的批次')}</div>
    <div class="card"><h2>重试中</h2>${retryingRows ? `<div class="table-wrap"><table data-testid="retrying-batches"><thead><tr><th>专柜</th><th>期间</th><th>类型</th><th class="num">失败次数</th><th class="num">平台应答</th><th class="hide-sm">信息</th></tr></thead><tbody>${retryingRows}</tbody></table></div>` : empty('没有等待重试的批次')}</div>`
  document.getElementById('run')?.addEventListener('click', async (e) => {
    e.target.disabled = true
    try {
      const r = await api('POST', '/forwarding/run')
      await forwardingView()
      document.getElementById('fw-msg').textContent = `已评判 ${r.judged} 个专柜期间：新排队 ${r.queued}，暂缓 ${r.held}，已送达 ${r.delivered}。`
    } catch (err) {
      showError(err)
    }
  })
  for (const b of app.querySelectorAll('button[data-retry]')) {
    b.addEventListener('click', async () => {
      b.disabled = true
      try {
        const r = await api('POST', `/forwarding/failed/${encodeURIComponent(b.dataset.retry)}/retry`)
        await forwardingView()
        const msg = document.getElementById('fw-msg')
        if (msg) msg.textContent = `批次 ${r.batchKey} 已重新排队上报。`
      } catch (err) {
        showError(err)
      }
    })
  }
}

// ── catalog: suppliers, products, certificates ─────────────────────────────

/** The day `months` months before a YYYY-MM-DD date (clamped to the month's end). */
function monthsBefore(day, months) {
  const [y, m, d] = day.split('-').map(Number)
  const first = new Date(Date.UTC(y, m - 1 - months, 1))
  const last = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + 1, 0)).getUTCDate()
  first.setUTCDate(Math.min(d, last))
  return first.toISOString().slice(0, 10)
}

// Renewal opens 3 months before a certificate's expiry (certification/service.ts, POST /certificates/:no/renew).
const RENEW_WINDOW_MONTHS = 3

async function catalogView(params) {
  const q = new URLSearchParams(params)
  const tab = q.get('tab') ?? 'products'
  const [sup, prod, certs, names] = await Promise.all([api('GET', '/suppliers'), api('GET', '/products'), api('GET', '/certificates'), planInfo().then((p) => p.names)])
  const today = certs.asOf
  const supplierName = Object.fromEntries(sup.suppliers.map((s) => [s.uscc, s.name]))
  const productName = Object.fromEntries(prod.products.map((p) => [p.sku, p.name]))
  const tabLink = (id, label, n) => `<a href="#/catalog?tab=${id}" class="${tab === id ? 'active' : ''}" data-tab="${id}">${label}（${n}）</a>`
  let body = ''
  if (tab === 'suppliers') {
    const rows = sup.suppliers
      .map((s) => {
        const products = prod.products.filter((p) => p.supplierUscc === s.uscc)
        const certified = products.filter((p) => p.isCertified).length
        const county = s.countyCode ? (names[s.countyCode] ?? s.countyCode) : '—'
        const black = s.blacklistedFrom ? `<span class="bad">自 ${esc(s.blacklistedFrom)} 起列入黑名单：${esc(s.blacklistReason ?? '')}</span>` : '<span class="muted">—</span>'
        return `<tr data-supplier="${esc(s.uscc)}"><td>${esc(s.uscc)}</td><td>${esc(s.name)}</td><td>${esc(county)}</td><td class="num">${products.length}</td><td class="num">${certified}</td><td class="hide-sm">${esc(s.contact ?? '—')}${s.phone ? ` ${esc(s.phone)}` : ''}</td><td class="wrap">${black}</td></tr>`
      })
      .join('')
    body = rows ? `<div class="table-wrap"><table data-testid="suppliers"><thead><tr><th>统一社会信用代码</th><th>名称</th><th>注册县区</th><th class="num">产品</th><th class="num">已认定</th><th class="hide-sm">联系人</th><th>黑名单</th></tr></thead><tbody>${rows}</tbody></table></div>` : empty('尚无供应商')
  } else if (tab === 'certificates') {
    const status = q.get('status') ?? ''
    const rows = certs.certificates
      .filter((c) => !status || c.status === status)
      .map((c) => {
        const opens = monthsBefore(c.validTo, RENEW_WINDOW_MONTHS)
        const renewal = c.status === 'revoked' ? '—' : today > c.validTo ? '<span class="bad">已过期</span>' : today >= opens ? `<span class="due">可续期（${esc(opens)} 起）</span>` : `<span class="muted">${esc(opens)} 起可续期</span>`
        const revoked = c.revokedFrom ? `<span class="bad">自 ${esc(c.revokedFrom)} 起撤销：${esc(c.revokeReason ?? '')}</span>` : '—'
        return `<tr data-certificate="${esc(c.certificateNo)}"><td>${esc(c.certificateNo)}</td><td>${esc(productName[c.sku] ?? c.sku)}<span class="muted hide-sm">（${esc(c.sku)}）</span></td><td class="hide-sm">${esc(supplierName[c.supplierUscc] ?? c.supplierUscc)}</td><td>${esc(CERT_LEVEL_ZH[c.level] ?? c.level)}</td><td>${esc(c.validFrom)} 至 ${esc(c.validTo)}</td><td><span class="badge ${c.status === 'valid' ? 'ok' : c.status === 'pending' ? 'due' : 'bad'}">${esc(CERT_STATUS_ZH[c.status] ?? c.status)}</span></td><td>${renewal}</td><td class="wrap">${revoked}</td><td class="hide-sm">${esc(c.renews ?? '—')}</td></tr>`
      })
      .join('')
    const opt = (v, label) => `<option value="${v}" ${status === v ? 'selected' : ''}>${label}</option>`
    body = `<form class="filters"><select id="cert-status" aria-label="状态">${opt('', '全部状态')}${Object.entries(CERT_STATUS_ZH).map(([k, v]) => opt(k, v)).join('')}</select></form>
      ${rows ? `<div class="table-wrap"><table data-testid="certificates"><thead><tr><th>证书编号</th><th>产品</th><th class="hide-sm">供应商</th><th>认定级别</th><th>有效期</th><th>状态</th><th>续期</th><th>撤销</th><th class="hide-sm">续自</th></tr></thead><tbody>${rows}</tbody></table></div>` : empty('没有符合条件的证书')}`
  } else {
    // The policy's product facts (issue 15) on a line of their own under the product, where it has any.
    const rows = prod.products
      .map((p) => {
        const facts = productFactsText(p)
        return `<tr data-product="${esc(p.sku)}"><td>${esc(p.sku)}</td><td>${esc(p.name)}</td><td>${esc(supplierName[p.supplierUscc] ?? p.supplierUscc)}</td><td>${esc(p.origin ?? '—')}</td><td>${esc(p.category ?? '—')}</td><td class="num">¥${yuan(p.priceFen)}</td><td>${p.isCertified ? `<span class="ok">已认定</span> <span class="muted hide-sm">${esc(p.certificateNo ?? '')}</span>` : '<span class="bad">未认定</span>'}</td></tr>${
          facts.length ? `<tr class="facts" data-product-facts="${esc(p.sku)}"><td colspan="7" class="wrap">${facts.map(([k, v]) => `<span data-fact="${esc(k)}"><span class="muted">${esc(FACT_ZH[k])}</span> ${esc(v)}</span>`).join('')}</td></tr>` : ''
        }`
      })
      .join('')
    body = rows ? `<div class="table-wrap"><table data-testid="products"><thead><tr><th>SKU</th><th>名称</th><th>供应商</th><th>产地</th><th>类别</th><th class="num">价格</th><th>认定</th></tr></thead><tbody>${rows}</tbody></table></div>` : empty('尚无产品')
  }
  app.innerHTML = `
    <h1>扶贫产品目录</h1>
    <p class="muted">截至 ${esc(today)}（北京时间）</p>
    <nav class="tabs">${tabLink('products', '产品', prod.products.length)}${tabLink('suppliers', '供应商', sup.suppliers.length)}${tabLink('certificates', '认定证书', certs.certificates.length)}</nav>
    <div class="card">${body}</div>`
  document.getElementById('cert-status')?.addEventListener('change', (e) => (location.hash = `#/catalog?tab=certificates${e.target.value ? `&status=${e.target.value}` : ''}`))
}

// ── certification workflow (认定): applications, reviews, 公示 and objections ──

const FACT_ZH = ZH.labels.productFact
const APP_KIND_ZH = ZH.labels.applicationKind
const APP_STATE_ZH = ZH.labels.applicationState
const APP_ACTION_ZH = ZH.labels.applicationAction
const OBJ_STATE_ZH = ZH.labels.objectionState
const STEP_ZH = ZH.labels.reviewStep
// The policy's facts in the order the forms and views list them (ProductFactsView).
const FACT_KEYS = ['scale', 'annualOutput', 'supplyPeriod', 'priceRange', 'operator', 'householdsHelped', 'materialSource']

/** [key, shown text] of the facts a product or an application has (price range in 元, households counted). */
function productFactsText(f, keys = FACT_KEYS) {
  const out = []
  for (const k of keys) {
    const v = f?.[k]
    if (v === null || v === undefined) continue
    if (k === 'priceRange') out.push([k, `¥${yuan(v.minFen)}–¥${yuan(v.maxFen)}`])
    else if (k === 'priceFen') out.push([k, `¥${yuan(v)}`])
    else if (k === 'householdsHelped') out.push([k, `${v} 户`])
    else out.push([k, String(v)])
  }
  return out
}

/** "39.90" (元) → 3990 fen, or null for an empty field; NaN for what is not an amount (the server then answers). */
function fenOf(text) {
  const t = String(text ?? '').trim()
  if (!t) return null
  if (!/^\d+(\.\d{1,2})?$/.test(t)) return Number.NaN
  const [whole, frac = ''] = t.split('.')
  return Number(whole) * 100 + Number(frac.padEnd(2, '0'))
}

const roleZh = (role) => (role === 'system' ? '系统' : (ROLE_ZH[role] ?? role))

/** May this user review the application's current step (server rules: docs/certification.md)? */
function mayReview(a) {
  if (!a.currentStep) return false
  return me.role === 'admin' || (me.role === 'county' && a.currentStep === 'county')
}
const mayRecordObjections = () => me.role === 'admin' || me.role === 'county'

/** Suppliers this user may file for: a county official its county's, an operator the ones it registered, the administrator all. */
function fileableSuppliers(suppliers) {
  if (me.role === 'admin') return suppliers
  if (me.role === 'county') return suppliers.filter((s) => s.countyCode === me.countyCode)
  if (me.role === 'operator') return suppliers.filter((s) => s.operator === me.operator)
  return []
}

/** Shows a failed action's message (the server's Chinese text with its specifics) in `id`. */
function actionError(id, err) {
  if (err instanceof ApiError && err.status === 401) return renderLogin()
  const el = document.getElementById(id)
  if (el) el.textContent = err.message
  else showError(err)
}

async function certificationView(params) {
  const q = new URLSearchParams(params)
  const state = q.get('state') ?? 'all'
  const kind = q.get('kind') ?? ''
  const county = q.get('county') ?? ''
  const apiQ = new URLSearchParams({ state })
  if (kind) apiQ.set('kind', kind)
  if (county) apiQ.set('county', county)
  const canFile = me.role !== 'auditor'
  const [list, pub, { names }, sup] = await Promise.all([
    api('GET', `/certification/applications?${apiQ}`),
    api('GET', '/certification/publicity'),
    planInfo(),
    canFile ? api('GET', '/suppliers') : null,
  ])
  const countyName = (code) => (code ? (names[code] ?? code) : '—')
  const productOf = (a) => (typeof a.facts?.name === 'string' ? a.facts.name : a.sku)
  const rows = list.applications
    .map(
      (a) =>
        `<tr data-application="${a.applicationId}"><td><a href="#/certification/${a.applicationId}">${a.applicationId}</a></td><td>${esc(APP_KIND_ZH[a.kind] ?? a.kind)}</td><td>${esc(productOf(a))}<span class="muted hide-sm">（${esc(a.sku)}）</span></td><td class="hide-sm">${esc(a.supplierName)}</td><td>${esc(countyName(a.countyCode))}</td><td><span class="badge ${a.state === 'effective' ? 'ok' : a.state === 'rejected' ? 'bad' : 'due'}">${esc(APP_STATE_ZH[a.state] ?? a.state)}</span>${a.isDue ? ' <span class="due">公示期满</span>' : ''}</td><td class="hide-sm">${esc(a.filedBy)}（${esc(roleZh(a.filedRole))}）</td><td class="hide-sm">${esc(bj(a.filedAt))}</td></tr>`,
    )
    .join('')
  const notices = pub.notices
    .map(
      (n) =>
        `<tr data-notice="${n.applicationId}"><td><a href="#/certification/${n.applicationId}">${esc(n.productName ?? n.sku)}</a></td><td>${esc(APP_KIND_ZH[n.kind] ?? n.kind)}</td><td class="hide-sm">${esc(n.supplierName)}</td><td>${esc(countyName(n.countyCode))}</td><td>${esc(n.publicityFrom)} 至 ${esc(n.publicityTo)}</td><td>${esc(n.effectiveFrom)}</td><td>${esc(APP_STATE_ZH[n.state] ?? n.state)}${n.openObjections ? `（异议 ${n.openObjections} 件）` : ''}</td></tr>`,
    )
    .join('')
  const opt = (v, label, cur) => `<option value="${esc(v)}" ${cur === v ? 'selected' : ''}>${esc(label)}</option>`
  const countyOpts = Object.keys(names).length > 1 ? `<select name="county" aria-label="县区">${opt('', '全部县区', county)}${Object.entries(names).map(([k, v]) => opt(k, v, county)).join('')}</select>` : ''
  const suppliers = sup ? fileableSuppliers(sup.suppliers).filter((s) => !s.blacklistedFrom) : []
  const field = (name, label, attrs = '') => `<label>${esc(label)} <input name="${name}" ${attrs}></label>`
  const fileForm = !canFile
    ? ''
    : suppliers.length === 0
      ? `<div class="card"><h2>提交认定申请</h2>${empty('您的范围内暂无可代为申请的供应商')}</div>`
      : `<form class="card filters" id="file-form"><h2>提交认定申请（新产品）</h2>
      <label>供应商 <select name="supplierUscc" aria-label="供应商">${suppliers.map((s) => `<option value="${esc(s.uscc)}">${esc(s.name)}（${esc(s.uscc)}）</option>`).join('')}</select></label>
      ${field('sku', 'SKU', 'required')}${field('name', FACT_ZH.name, 'required')}${field('price', `${FACT_ZH.priceFen}（元）`, 'required inputmode="decimal"')}
      ${field('origin', FACT_ZH.origin)}${field('category', FACT_ZH.category)}${field('scale', FACT_ZH.scale)}${field('annualOutput', FACT_ZH.annualOutput)}${field('supplyPeriod', FACT_ZH.supplyPeriod)}
      ${field('priceMin', `${FACT_ZH.priceRange}下限（元）`, 'inputmode="decimal"')}${field('priceMax', `${FACT_ZH.priceRange}上限（元）`, 'inputmode="decimal"')}
      ${field('operator', FACT_ZH.operator)}${field('householdsHelped', FACT_ZH.householdsHelped, 'inputmode="numeric"')}${field('materialSource', FACT_ZH.materialSource)}${field('note', '备注')}
      <button class="primary" type="submit">提交申请</button><div class="error" id="file-error"></div></form>`
  app.innerHTML = `
    <h1>扶贫产品认定</h1>
    <form class="filters" id="filters">
      <select name="state" aria-label="状态">${opt('all', '全部状态', state)}${opt('open', '办理中', state)}${Object.entries(APP_STATE_ZH).map(([k, v]) => opt(k, v, state)).join('')}</select>
      <select name="kind" aria-label="类型">${opt('', '全部类型', kind)}${Object.entries(APP_KIND_ZH).map(([k, v]) => opt(k, v, kind)).join('')}</select>
      ${countyOpts}
    </form>
    <p class="muted">截至 ${esc(list.asOf)}（北京时间）· 共 <b data-testid="app-total">${list.total}</b> 件申请</p>
    <div class="card"><h2>申请</h2>${rows ? `<div class="table-wrap"><table data-testid="applications"><thead><tr><th>编号</th><th>类型</th><th>产品</th><th class="hide-sm">供应商</th><th>县区</th><th>状态</th><th class="hide-sm">申请人</th><th class="hide-sm">提交时间</th></tr></thead><tbody>${rows}</tbody></table></div>` : empty('没有符合条件的申请')}</div>
    <div class="card"><h2>公示</h2><p class="muted">公示期内可登记异议；期满无异议（或异议不成立）的次日起认定生效。</p>${notices ? `<div class="table-wrap"><table data-testid="publicity"><thead><tr><th>产品</th><th>类型</th><th class="hide-sm">供应商</th><th>县区</th><th>公示期</th><th>生效日</th><th>状态</th></tr></thead><tbody>${notices}</tbody></table></div>` : empty('当前没有公示中的申请')}</div>
    ${fileForm}`
  const filters = document.getElementById('filters')
  filters.addEventListener('change', () => {
    const next = new URLSearchParams()
    for (const [k, v] of new FormData(filters)) if (v && !(k === 'state' && v === 'all')) next.set(k, v)
    location.hash = `#/certification${next.size ? `?${next}` : ''}`
  })
  const form = document.getElementById('file-form')
  form?.addEventListener('submit', async (e) => {
    e.preventDefault()
    const f = new FormData(form)
    const text = (k) => String(f.get(k) ?? '').trim()
    const product = { name: text('name'), priceFen: fenOf(text('price')) }
    for (const k of ['origin', 'category', 'scale', 'annualOutput', 'supplyPeriod', 'operator', 'materialSource']) if (text(k)) product[k] = text(k)
    if (text('priceMin') || text('priceMax')) product.priceRange = { minFen: fenOf(text('priceMin')), maxFen: fenOf(text('priceMax')) }
    if (text('householdsHelped')) product.householdsHelped = Number(text('householdsHelped'))
    const body = { kind: 'new', supplierUscc: text('supplierUscc'), sku: text('sku'), product }
    if (text('note')) body.note = text('note')
    try {
      const a = await api('POST', '/certification/applications', body)
      location.hash = `#/certification/${a.applicationId}`
    } catch (err) {
      actionError('file-error', err)
    }
  })
}

async function applicationView(id) {
  const [a, h, { names, today }] = await Promise.all([api('GET', `/certification/applications/${id}`), api('GET', `/certification/applications/${id}/history`), planInfo()])
  const facts = a.facts ? productFactsText(a.facts, ['name', 'priceFen', 'origin', 'category', ...FACT_KEYS]) : []
  const factRows = facts.map(([k, v]) => `<dt>${esc(FACT_ZH[k] ?? k)}</dt><dd data-fact="${esc(k)}">${esc(v)}</dd>`).join('')
  const events = h.events
    .map(
      (e) =>
        `<tr data-event="${e.eventId}"><td>${esc(bj(e.at))}</td><td>${esc(e.actor)}</td><td>${esc(roleZh(e.role))}</td><td>${esc(APP_ACTION_ZH[e.action] ?? e.action)}</td><td class="hide-sm">${e.fromState || e.toState ? `${esc(APP_STATE_ZH[e.fromState] ?? '—')} → ${esc(APP_STATE_ZH[e.toState] ?? '—')}` : '—'}</td><td class="wrap">${esc(e.reason ?? '')}</td></tr>`,
    )
    .join('')
  const inPublicity = (a.state === 'publicity' || a.state === 'on_hold') && a.publicityTo && today <= a.publicityTo
  const objections = a.objections
    .map(
      (o) =>
        `<tr data-objection="${o.objectionId}"><td>${esc(bj(o.lodgedAt))}</td><td class="wrap">${esc(o.reason)}</td><td>${esc(o.objector ?? '—')}</td><td>${esc(o.lodgedBy)}</td><td><span class="badge ${o.state === 'open' ? 'due' : o.state === 'upheld' ? 'bad' : 'ok'}">${esc(OBJ_STATE_ZH[o.state] ?? o.state)}</span></td><td class="wrap">${o.state === 'open' && mayRecordObjections() ? `<input data-resolve-reason="${o.objectionId}" aria-label="处理理由" placeholder="处理理由"> <button type="button" data-resolve="${o.objectionId}" data-decision="upheld">异议成立</button> <button type="button" data-resolve="${o.objectionId}" data-decision="dismissed">异议不成立</button>` : esc(o.resolution ? `${o.resolution}（${o.resolvedBy}，${bj(o.resolvedAt)}）` : '')}</td></tr>`,
    )
    .join('')
  const steps = a.reviewSteps.map((s) => `<span class="${s === a.currentStep ? 'due' : ''}">${esc(STEP_ZH[s] ?? s)}</span>`).join(' → ')
  app.innerHTML = `
    <h1>认定申请 ${a.applicationId} <span class="badge ${a.state === 'effective' ? 'ok' : a.state === 'rejected' ? 'bad' : 'due'}" data-testid="app-state">${esc(APP_STATE_ZH[a.state] ?? a.state)}</span></h1>
    <p><a href="#/certification">返回申请列表</a></p>
    <div class="card"><dl class="kv">
      <dt>类型</dt><dd>${esc(APP_KIND_ZH[a.kind] ?? a.kind)}</dd>
      <dt>供应商</dt><dd>${esc(a.supplierName)}（${esc(a.supplierUscc)}）</dd>
      <dt>注册县区</dt><dd>${esc(a.countyCode ? (names[a.countyCode] ?? a.countyCode) : '—')}</dd>
      <dt>SKU</dt><dd>${esc(a.sku)}</dd>
      ${factRows}
      ${a.renews ? `<dt>续期证书</dt><dd>${esc(a.renews)}</dd>` : ''}
      ${a.note ? `<dt>备注</dt><dd>${esc(a.note)}</dd>` : ''}
      <dt>审核流程</dt><dd>${steps} → 公示 ${a.publicityWorkingDays} 个工作日</dd>
      <dt>公示期</dt><dd data-testid="publicity-window">${a.publicityFrom ? `${esc(a.publicityFrom)} 至 ${esc(a.publicityTo)}，${esc(a.effectiveFrom)} 起生效` : '—'}</dd>
      <dt>认定证书</dt><dd data-testid="certificate-no">${esc(a.certificateNo ?? '—')}</dd>
      ${a.rejectReason ? `<dt>不予通过理由</dt><dd class="bad" data-testid="reject-reason">${esc(a.rejectReason)}</dd>` : ''}
      <dt>申请人</dt><dd>${esc(a.filedBy)}（${esc(roleZh(a.filedRole))}${a.filedOperator ? `，${esc(a.filedOperator)}` : ''}），${esc(bj(a.filedAt))}</dd>
    </dl></div>
    <div class="error" id="action-error"></div>
    ${mayReview(a) ? `<form class="card filters" id="review-form"><h2>${esc(STEP_ZH[a.currentStep] ?? a.currentStep)}</h2><input name="reason" aria-label="审核意见" placeholder="审核意见（不予通过时必填）"><button type="button" class="primary" data-review="approve">审核通过</button><button type="button" data-review="reject">不予通过</button></form>` : ''}
    ${inPublicity && mayRecordObjections() ? `<form class="card filters" id="objection-form"><h2>登记异议</h2><input name="reason" aria-label="异议内容" placeholder="异议内容" required><input name="by" aria-label="异议人" placeholder="异议人或单位（可选）"><button type="submit" class="primary">登记异议</button></form>` : ''}
    <div class="card"><h2>异议</h2>${objections ? `<div class="table-wrap"><table data-testid="objections"><thead><tr><th>登记时间</th><th>内容</th><th>异议人</th><th>登记人</th><th>状态</th><th>处理</th></tr></thead><tbody>${objections}</tbody></table></div>` : empty('没有异议')}</div>
    <div class="card"><h2>办理记录</h2><div class="table-wrap"><table data-testid="events"><thead><tr><th>时间（北京）</th><th>操作人</th><th>角色</th><th>事项</th><th class="hide-sm">状态</th><th>理由</th></tr></thead><tbody>${events}</tbody></table></div></div>`
  const again = () => applicationView(id)
  const review = document.getElementById('review-form')
  for (const b of review?.querySelectorAll('button[data-review]') ?? []) {
    b.addEventListener('click', async () => {
      const reason = String(review.elements.reason.value).trim()
      try {
        await api('POST', `/certification/applications/${id}/review`, { decision: b.dataset.review, ...(reason && { reason }) })
        await again()
      } catch (err) {
        actionError('action-error', err)
      }
    })
  }
  const lodge = document.getElementById('objection-form')
  lodge?.addEventListener('submit', async (e) => {
    e.preventDefault()
    const by = String(lodge.elements.by.value).trim()
    try {
      await api('POST', `/certification/applications/${id}/objections`, { reason: String(lodge.elements.reason.value).trim(), ...(by && { by }) })
      await again()
    } catch (err) {
      actionError('action-error', err)
    }
  })
  for (const b of app.querySelectorAll('button[data-resolve]')) {
    b.addEventListener('click', async () => {
      const reason = String(app.querySelector(`input[data-resolve-reason="${b.dataset.resolve}"]`).value).trim()
      try {
        await api('POST', `/certification/objections/${b.dataset.resolve}/resolve`, { decision: b.dataset.decision, reason })
        await again()
      } catch (err) {
        actionError('action-error', err)
      }
    })
  }
}

// ── map: cabinets by latitude/longitude over a plain grid (no tiles: offline) ──

const MAP_COLOURS = {
  status: { planned: '#9aa5b1', site_assigned: '#e59866', installed: '#5d9cec', operating: '#1e8449', suspended: '#b9770e', retired: '#52606d' },
  online: { true: '#1e8449', false: '#c0392b' },
  compliance: { compliant: '#1e8449', noncompliant: '#c0392b', nosales: '#9aa5b1' },
}
const MAP_LABELS = {
  status: STATUS_ZH,
  online: { true: '在线', false: '离线' },
  compliance: { compliant: '本月达标', noncompliant: '本月未达标', nosales: '本月无销售' },
}

/** Every cabinet the caller sees (the list answers at most 1,000 a page). */
async function allCabinets() {
  const out = []
  for (let offset = 0; ; offset += 1000) {
    const page = await api('GET', `/cabinets?limit=1000&offset=${offset}`)
    out.push(...page.cabinets)
    if (page.cabinets.length === 0 || out.length >= page.total) return out
  }
}

async function mapView(params) {
  const q = new URLSearchParams(params)
  const by = Object.hasOwn(MAP_COLOURS, q.get('by') ?? '') ? q.get('by') : 'status'
  const { names, today } = await planInfo()
  const month = monthOf(today)
  const [cabs, comp] = await Promise.all([allCabinets(), api('GET', `/compliance?period=${month}`)])
  const judged = new Map(comp.cabinets.map((r) => [r.cabinetId, r.compliant ? 'compliant' : 'noncompliant']))
  const keyOf = (c) => (by === 'status' ? c.status : by === 'online' ? String(c.online) : (judged.get(c.cabinetId) ?? 'nosales'))
  const hasPlace = (c) => typeof c.latitude === 'number' && typeof c.longitude === 'number'
  const located = cabs.filter(hasPlace)
  const groups = new Map()
  for (const c of cabs) {
    const g = groups.get(c.countyCode) ?? { code: c.countyCode, total: 0, located: 0, online: 0, lng: 0, lat: 0, keys: {} }
    g.total++
    if (c.online) g.online++
    if (hasPlace(c)) {
      g.located++
      g.lng += c.longitude
      g.lat += c.latitude
    }
    g.keys[keyOf(c)] = (g.keys[keyOf(c)] ?? 0) + 1
    groups.set(c.countyCode, g)
  }
  const keys = Object.keys(MAP_COLOURS[by])
  const label = (k) => MAP_LABELS[by][k] ?? k
  const rows = [...groups.values()]
    .sort((a, b) => a.code.localeCompare(b.code))
    .map((g) => `<tr data-county="${esc(g.code)}"><td>${esc(names[g.code] ?? g.code)}</td><td class="num">${g.total}</td><td class="num">${g.located}</td><td class="num">${g.online}</td>${keys.map((k) => `<td class="num hide-sm">${g.keys[k] ?? 0}</td>`).join('')}</tr>`)
    .join('')
  const opt = (v, l) => `<option value="${v}" ${by === v ? 'selected' : ''}>${l}</option>`
  app.innerHTML = `
    <h1>专柜分布</h1>
    <form class="filters"><select id="map-by" aria-label="着色">${opt('status', '按状态着色')}${opt('online', '按在线着色')}${opt('compliance', '按本月扶贫产品占比着色')}</select></form>
    <p class="muted">共 <b data-testid="total">${cabs.length}</b> 台，已标注位置 <b data-testid="located">${located.length}</b> 台（经纬度网格，离线可用）</p>
    <div class="card">${located.length ? '<div id="chart" class="map" role="img" aria-label="专柜位置散点图"></div>' : empty('尚无标注经纬度的专柜')}</div>
    <div class="card"><h2>各县区</h2><div class="table-wrap"><table data-testid="map-counties"><thead><tr><th>县区</th><th class="num">专柜</th><th class="num">已标注</th><th class="num">在线</th>${keys.map((k) => `<th class="num hide-sm">${esc(label(k))}</th>`).join('')}</tr></thead><tbody>${rows}</tbody></table></div></div>`
  document.getElementById('map-by').addEventListener('change', (e) => (location.hash = `#/map?by=${e.target.value}`))
  const el = document.getElementById('chart')
  if (!el) return
  const series = keys.map((k) => ({
    name: label(k),
    type: 'scatter',
    symbolSize: 10,
    itemStyle: { color: MAP_COLOURS[by][k], borderColor: '#fff', borderWidth: 1 },
    data: located.filter((c) => keyOf(c) === k).map((c) => ({ value: [c.longitude, c.latitude], name: c.cabinetId, county: names[c.countyCode] ?? c.countyCode, site: c.siteName ?? '' })),
  }))
  // Each county's name at the centre of its located cabinets: the grouping without outlines.
  series.push({
    name: '县区',
    type: 'scatter',
    symbolSize: 0,
    silent: true,
    label: { show: true, position: 'top', distance: 12, formatter: '{b}', color: '#1f2933', fontWeight: 600 },
    data: [...groups.values()].filter((g) => g.located > 0).map((g) => ({ value: [g.lng / g.located, g.lat / g.located], name: names[g.code] ?? g.code })),
  })
  await drawChart(el, {
    tooltip: { trigger: 'item', formatter: (p) => (p.seriesName === '县区' ? esc(p.name) : `${esc(p.name)}<br>${esc(p.data.county)} ${esc(p.data.site)}<br>${esc(p.seriesName)}`) },
    legend: { top: 0, data: keys.map(label) },
    grid: { left: 50, right: 16, top: 40, bottom: 36 },
    xAxis: { type: 'value', name: '经度', scale: true, axisLabel: { formatter: (v) => v.toFixed(2) } },
    yAxis: { type: 'value', name: '纬度', scale: true, axisLabel: { formatter: (v) => v.toFixed(2) } },
    series,
  })
}

async function route() {
  if (!me) return
  routeSeq++
  for (const c of charts.splice(0)) c.dispose()
  const hash = location.hash.replace(/^#/, '') || '/'
  const [path, query = ''] = hash.split('?')
  for (const a of nav.querySelectorAll('a')) {
    const target = a.getAttribute('href').slice(1)
    a.classList.toggle('active', target === '/' ? path === '/' : path.startsWith(target.replace(/s$/, '')))
  }
  try {
    if (path === '/' || path === '') await overview()
    else if (path === '/cabinets') await cabinets(query)
    else if (path.startsWith('/cabinet/')) await cabinet(decodeURIComponent(path.slice('/cabinet/'.length)))
    else if (path === '/alerts') await alertsView(query)
    else if (path === '/notifications') await window.FleetNotifications.view({ api, app, esc, bj, ZH, empty, showError, me })
    else if (path === '/reports') await reportsView()
    else if (path === '/restock') await window.stockUi.restockView(query)
    else if (path.startsWith('/report/')) await reportPreview(decodeURIComponent(path.slice('/report/'.length)))
    else if (path === '/compliance') await complianceView(query)
    else if (path === '/forwarding') await forwardingView()
    else if (path === '/catalog') await catalogView(query)
    else if (path === '/map') await mapView(query)
    else if (path === '/certification') await certificationView(query)
    else if (path.startsWith('/certification/')) await applicationView(Number(path.slice('/certification/'.length)))
    else app.innerHTML = empty('页面不存在')
  } catch (err) {
    showError(err)
  }
}

window.addEventListener('hashchange', route)
window.addEventListener('resize', () => charts.forEach((c) => c.resize()))
api('GET', '/me')
  .then((m) => {
    me = m
    showWho()
    return route()
  })
  .catch((err) => (err instanceof ApiError && err.status === 401 ? renderLogin() : showError(err)))
