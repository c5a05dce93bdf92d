/* global document, window, fetch, location, URLSearchParams, FormData */
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
let chart = null

const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c])
const pct = (n, d) => (d > 0 ? Math.round((n / d) * 1000) / 10 : 0)
const yuan = ZH.yuanZh
const bj = ZH.beijingZh
const empty = (text) => `<div class="empty">${esc(text)}</div>`

class ApiError extends Error {
  constructor(status, code, message) {
    super(message)
    this.status = status
    this.code = code
  }
}

async function api(method, path, body) {
  const res = await fetch(`/api/v1${path}`, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  const data = text ? JSON.parse(text) : null
  if (!res.ok) {
    const code = data?.error?.code ?? 'INTERNAL'
    throw new ApiError(res.status, code, ERR_ZH[code] ?? data?.error?.message ?? `请求失败（${res.status}）`)
  }
  return data
}

function showError(err) {
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

async function overview() {
  const [r, alerts] = await Promise.all([api('GET', '/rollout'), api('GET', '/alerts?state=open&limit=20')])
  const t = r.totals
  const kpi = (label, n, of, ofLabel = '占任务') =>
    `<div class="kpi"><div class="l">${esc(label)}</div><div class="n">${n.toLocaleString('zh-CN')}</div>${of !== undefined ? `<div class="muted">${ofLabel} ${pct(n, of)}%</div><div class="bar"><i style="width:${Math.min(100, pct(n, of))}%"></i></div>` : ''}</div>`
  const title = me.role === 'county' ? `${me.countyName ?? me.countyCode} 布设进度` : `${r.plan.region.name} 布设进度`
  const rows = r.counties
    .map((c) => {
      const n = c.next
      const next = n
        ? `<span class="badge ${n.state}">${MS_ZH[n.state]}</span> ${n.onTrack ? '<span class="ok">按期</span>' : `<span class="bad">落后</span>`} <span class="muted hide-sm">${n.projectedDate ? `预计 ${esc(n.projectedDate)}` : n.remaining ? '近期无进展' : ''}</span>`
        : '<span class="badge met">全部完成</span>'
      return `<tr data-county="${esc(c.code)}"><td><a href="#/cabinets?county=${esc(c.code)}">${esc(c.name)}</a></td><td class="num">${c.quota}</td><td class="num">${c.sitesAssigned}</td><td class="num">${c.installed}</td><td class="num">${c.operating}</td><td class="num">${c.online}</td><td>${next}</td></tr>`
    })
    .join('')
  const ms = r.milestones
    .map((m) => `<li data-milestone="${esc(m.id)}"><span class="badge ${m.state}">${MS_ZH[m.state]}</span> <b>${esc(m.date)}</b> ${esc(m.description)} <span class="muted">（${m.countiesMet}/${m.counties} 个县区达标）</span></li>`)
    .join('')
  const offline = alerts.alerts.filter((a) => a.kind === 'offline').length
  const behind = alerts.alerts.filter((a) => a.kind === 'behind_schedule')
  app.innerHTML = `
    <h1 data-testid="title">${esc(title)}</h1>
    <p class="muted">${esc(r.plan.name)} · 截至 ${esc(bj(r.asOf))}（北京时间）</p>
    <div class="kpis">
      ${kpi('任务数', t.quota)}${kpi('已定点', t.sitesAssigned, t.quota)}${kpi('已安装', t.installed, t.quota)}${kpi('运营中', t.operating, t.quota)}${kpi('当前在线', t.online, t.installed || undefined, '占已安装')}
    </div>
    <div class="card"><h2>节点目标</h2>${ms ? `<ul class="ms">${ms}</ul>` : empty('布设计划未设置节点目标')}</div>
    <div class="card"><h2>${r.counties.length > 1 ? '各县区进度' : '县区进度'}</h2>${r.counties.length === 0 ? empty('您的范围内暂无专柜') : `<div id="chart" role="img" aria-label="各县区布设进度柱状图"></div>`}
      <div class="table-wrap"><table data-testid="counties"><thead><tr><th>县区</th><th class="num">任务</th><th class="num">定点</th><th class="num">安装</th><th class="num">运营</th><th class="num">在线</th><th>下一节点</th></tr></thead><tbody>${rows}</tbody></table></div>
    </div>
    <div class="card"><h2>告警</h2>
      ${alerts.total === 0 ? empty('暂无未处理告警') : `<p>离线超过 24 小时的专柜：<b class="bad">${offline}</b> 台；进度落后的县区：<b class="bad">${behind.length}</b> 个。<a href="#/alerts">查看全部 ${alerts.total} 条</a></p>`}
    </div>`
  if (document.getElementById('chart') && r.counties.length) {
    const ec = await loadECharts()
    const el = document.getElementById('chart')
    if (!el) return
    chart?.dispose()
    chart = ec.init(el, null, { renderer: 'canvas' })
    const names = r.counties.map((c) => c.name)
    chart.setOption({
      animation: false,
      tooltip: { trigger: 'axis' },
      legend: { top: 0 },
      grid: { left: 40, right: 10, top: 36, bottom: 40 },
      xAxis: { type: 'category', data: names, axisLabel: { interval: 0, rotate: names.length > 6 ? 30 : 0 } },
      yAxis: { type: 'value' },
      series: [
        { name: '任务', type: 'bar', data: r.counties.map((c) => c.quota), itemStyle: { color: '#d5dae0' } },
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
  const [sales, history] = await Promise.all([
    api('GET', `/cabinets/${encodeURIComponent(id)}/sales?afterSeq=${Math.max(0, c.sales.lastSeq - 20)}&limit=20`),
    api('GET', `/cabinets/${encodeURIComponent(id)}/transitions`),
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
    <div class="card"><h2>最近销售</h2>${saleRows ? `<div class="table-wrap"><table><thead><tr><th class="num">序号</th><th>时间</th><th class="num">金额</th><th class="hide-sm">商品</th></tr></thead><tbody>${saleRows}</tbody></table></div>` : empty('尚无销售记录')}</div>
    <div class="card"><h2>状态变更记录</h2>${hist ? `<div class="table-wrap"><table><thead><tr><th>时间</th><th>变更</th><th>操作人</th><th class="hide-sm">原因</th></tr></thead><tbody>${hist}</tbody></table></div>` : empty('暂无记录')}</div>`
}

async function alertsView(params) {
  const q = new URLSearchParams(params)
  const state = q.get('state') ?? 'open'
  const list = await api('GET', `/alerts?state=${encodeURIComponent(state)}&limit=200`)
  const canAck = me.role !== 'auditor'
  const rows = list.alerts
    .map(
      (a) =>
        `<tr data-alert="${esc(a.alertId)}"><td><span class="badge ${a.severity}">${esc(SEV_ZH[a.severity])}</span></td><td>${esc(KIND_ZH[a.kind] ?? a.kind)}</td><td style="white-space:normal">${a.cabinetId ? `<a href="#/cabinet/${encodeURIComponent(a.cabinetId)}">${esc(a.message)}</a>` : esc(a.message)}</td><td class="hide-sm">${esc(bj(a.raisedAt))}</td><td>${a.clearedAt ? '已恢复' : a.ackedAt ? `已确认（${esc(a.ackedBy)}）` : canAck ? `<button type="button" data-ack="${esc(a.alertId)}">确认</button>` : '未确认'}</td></tr>`,
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
        `<tr data-report="${esc(r.reportId)}"><td>${esc(REPORT_KIND_ZH[r.kind] ?? r.kind)}</td><td>${esc(r.period)}</td><td>${esc(r.scopeName)}</td><td class="hide-sm">${esc(bj(r.createdAt))}</td><td class="hide-sm">${r.createdBy === 'system' ? '定时生成' : esc(r.createdBy)}</td><td>${file(r, 'xlsx', 'Excel')} · ${file(r, 'csv', 'CSV')}</td></tr>`,
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

async function route() {
  if (!me) return
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
    else if (path === '/reports') await reportsView()
    else app.innerHTML = empty('页面不存在')
  } catch (err) {
    showError(err)
  }
}

window.addEventListener('hashchange', route)
window.addEventListener('resize', () => chart?.resize())
api('GET', '/me')
  .then((m) => {
    me = m
    showWho()
    return route()
  })
  .catch((err) => (err instanceof ApiError && err.status === 401 ? renderLogin() : showError(err)))
