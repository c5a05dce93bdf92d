/* global window */
// The cabinet page's 运行状态 card (issue 16 §4): the latest telemetry reading
// and a 24 h temperature line, from GET /api/v1/cabinets/:id/telemetry.
// Loaded before app.js, which places the card and draws the chart.
'use strict'

window.TelemetryCard = (() => {
  const ZH = window.ZH
  const bj = ZH.beijingZh
  const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c])
  const num = (v, unit) => (v === null || v === undefined ? '—' : `${v}${unit}`)
  const age = (s) => (s < 60 ? `${Math.round(s)} 秒` : s < 7200 ? `${Math.round(s / 60)} 分钟` : `${(s / 3600).toFixed(1)} 小时`)

  /** The card's HTML; `t` is the API's reply (or null when it failed). */
  function html(t) {
    const l = t?.latest
    if (!l) return `<div class="card" id="telemetry"><h2>运行状态</h2><div class="empty">${t ? '尚未上报运行状态' : '运行状态暂不可用'}</div></div>`
    const faults = l.faults.length === 0 ? '无' : l.faults.map((f) => `${esc(ZH.labels.faultModule[f.module] ?? f.module)}（${esc(f.code)}，自 ${esc(bj(f.since))}）`).join('、')
    return `<div class="card" id="telemetry"><h2>运行状态</h2><dl class="kv" data-testid="telemetry">
      <dt>温度</dt><dd>${esc(num(l.temperatureC, ' °C'))}${l.chilled ? '（冷藏柜）' : ''}</dd>
      <dt>柜门</dt><dd class="${l.doorOpen ? 'bad' : 'ok'}">${l.doorOpen ? `打开（自 ${esc(bj(l.doorOpenSince))}）` : '关闭'}</dd>
      <dt>故障</dt><dd class="${l.faults.length ? 'bad' : 'ok'}">${faults}</dd>
      <dt>存储</dt><dd>已用 ${esc(num(l.diskUsedPct, '%'))}，账本 ${(l.ledgerBytes / 1048576).toFixed(1)} MB</dd>
      <dt>待上传</dt><dd>${l.outboxPending} 笔${l.outboxPending > 0 ? `，最早一笔已 ${esc(age(l.outboxOldestAgeS))}` : ''}</dd>
      <dt>程序版本</dt><dd>${esc(l.agentVersion)}</dd>
      <dt>上报时间</dt><dd>${esc(bj(l.receivedAt))}</dd>
    </dl>${t.hourly.some((h) => h.tempAvgC !== null) ? '<div class="chart" id="telemetry-chart" role="img" aria-label="近 24 小时温度"></div>' : ''}</div>`
  }

  /** The ECharts option of the temperature line (min/avg/max per hour, Beijing time), or null without temperatures. */
  function chartOption(t) {
    const hours = (t?.hourly ?? []).filter((h) => h.tempAvgC !== null)
    if (hours.length === 0) return null
    const x = hours.map((h) => bj(`${h.hour}:00:00.000Z`).slice(5))
    const line = (name, key) => ({ name, type: 'line', showSymbol: hours.length < 30, data: hours.map((h) => h[key]) })
    return {
      title: { text: `近 ${t.hours} 小时温度（°C）`, textStyle: { fontSize: 13 } },
      tooltip: { trigger: 'axis' },
      legend: { top: 0, right: 0 },
      grid: { left: 40, right: 16, top: 40, bottom: 24 },
      xAxis: { type: 'category', data: x },
      yAxis: { type: 'value', scale: true },
      series: [line('最高', 'tempMaxC'), line('平均', 'tempAvgC'), line('最低', 'tempMinC')],
    }
  }

  return Object.freeze({ html, chartOption })
})()
