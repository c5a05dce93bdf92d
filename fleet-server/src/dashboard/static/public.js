/* global document, window, fetch */
// The public disclosure page (公开披露, issue 15): no login, one request
// (GET /api/v1/public/held-cabinets), nothing else of the fleet's data.
// Formats come from window.ZH (/dashboard/zh.js, shared/src/text/zh.ts).
'use strict'

const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c])

async function main() {
  const app = document.getElementById('app')
  let res
  try {
    res = await fetch('/api/v1/public/held-cabinets', { headers: { accept: 'application/json' } })
  } catch {
    app.innerHTML = '<p class="empty">无法连接服务器，请稍后再试。</p>'
    return
  }
  if (!res.ok) {
    const body = await res.json().catch(() => null)
    app.innerHTML = `<p class="empty">${esc(body?.error?.message ?? window.ZH.errors.INTERNAL ?? '加载失败')}</p>`
    return
  }
  const d = await res.json()
  const rows = d.cabinets
    .map((c) => `<tr data-cabinet="${esc(c.cabinetId)}"><td>${esc(c.cabinetId)}</td><td>${esc(c.countyName)}</td><td class="wrap">${esc(c.siteName ?? '—')}</td><td>${esc(c.operator ?? '—')}</td><td>${esc(c.period)}</td><td class="num bad">${esc(window.ZH.percentBpZh(c.certifiedShareBp))}</td></tr>`)
    .join('')
  app.innerHTML = `<h1>扶贫产品销售占比未达标专柜公示（${esc(d.period.from)} 至 ${esc(d.period.to)}）</h1>
    <p class="muted">依据布设计划政策，以下专柜在上一统计期间扶贫产品销售额占比低于 ${esc(window.ZH.percentBpZh(d.thresholdBp))}，其销售数据暂缓上报社会扶贫网。</p>
    ${rows ? `<div class="card table-wrap"><table data-testid="held"><thead><tr><th>专柜编号</th><th>区县</th><th>点位</th><th>运营企业</th><th>统计期间</th><th class="num">扶贫产品占比</th></tr></thead><tbody>${rows}</tbody></table></div>` : '<p class="empty">上一统计期间没有未达标专柜。</p>'}`
}

main()
