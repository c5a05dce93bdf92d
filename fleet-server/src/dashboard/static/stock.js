/* global document, window, location, URLSearchParams, FormData, app, api, esc, empty, bj, ZH, mayActOn, actionError */
// 库存 card on the cabinet page and the 补货 page (issue 16 §3), loaded after
// app.js and using its helpers (api, esc, empty …). Everything comes from the
// API, so the caller's scope applies.
'use strict'

;(() => {
  const F = ZH.labels.stockField
  const LEVEL = { ok: ['ok', '正常'], low: ['due', '不足'], out: ['bad', '缺货'] }
  const STATE_ZH = ZH.labels.commandState

  const planogramText = (slots) => slots.map((s) => `${s.slot},${s.sku},${s.capacity},${s.par}`).join('\n')

  /** "slot,sku,capacity,par" per line → slots, or a Chinese message naming the bad line. */
  function parsePlanogram(text) {
    const slots = []
    const lines = text.split('\n').map((l) => l.trim()).filter(Boolean)
    for (const [i, line] of lines.entries()) {
      const parts = line.split(/[,，\s]+/)
      const [slot, sku, capacity, par] = parts
      if (parts.length !== 4 || !/^\d+$/.test(capacity) || !/^\d+$/.test(par)) return { error: `第 ${i + 1} 行应为“货道,商品编码,容量,标准库存”：${line}` }
      slots.push({ slot, sku, capacity: Number(capacity), par: Number(par) })
    }
    return { slots }
  }

  async function card(cabinetId) {
    const el = document.getElementById('stock')
    if (!el) return
    const id = encodeURIComponent(cabinetId)
    const s = await api('GET', `/cabinets/${id}/stock`)
    const rows = s.slots
      .map((x) => {
        const [cls, word] = LEVEL[x.level] ?? ['', x.level]
        return `<tr data-slot="${esc(x.slot)}"><td>${esc(x.slot)}</td><td>${esc(x.productName ?? x.sku)}<div class="muted hide-sm">${esc(x.sku)}</div></td><td class="num">${x.qty} / ${x.par}</td><td class="num hide-sm">${x.capacity}</td><td class="num ${x.oversold > 0 ? 'bad' : ''}">${x.oversold}</td><td class="${cls}">${esc(word)}</td></tr>`
      })
      .join('')
    const table = rows
      ? `<div class="table-wrap"><table data-testid="stock"><thead><tr><th>${F.slot}</th><th>${F.productName}</th><th class="num">${F.qty} / ${F.par}</th><th class="num hide-sm">${F.capacity}</th><th class="num">${F.oversold}</th><th>状态</th></tr></thead><tbody>${rows}</tbody></table></div>`
      : empty('尚未收到库存上报')
    const p = s.planogram
    const planogram = p
      ? `<p class="muted">货道配置（${p.slots.length} 个货道）由 ${esc(p.setBy)} 于 ${esc(bj(p.setAt))} 设置：<span data-testid="planogram-state">${esc(STATE_ZH[p.state] ?? p.state)}</span></p>`
      : '<p class="muted">尚未通过看板设置货道配置。</p>'
    const forms = mayActOn()
      ? `<p><button type="button" class="primary" id="restock-fill">登记补货：全部补至标准库存</button></p>
         <details><summary>编辑货道配置</summary>
           <form id="planogram-form"><p class="muted">每行一个货道：货道,商品编码,容量,标准库存</p>
           <textarea name="slots" rows="6" cols="40">${esc(planogramText(p?.slots ?? s.slots))}</textarea>
           <p><button type="submit" class="primary">下发货道配置</button></p></form>
         </details>
         <div class="error" id="stock-error"></div><div class="ok" id="stock-sent"></div>`
      : ''
    el.innerHTML = `<h2>库存</h2><p class="muted">上报时间：${esc(s.reportedAt ? bj(s.reportedAt) : '—')}</p>${table}${planogram}${forms}`
    document.getElementById('restock-fill')?.addEventListener('click', async () => {
      try {
        await api('POST', `/cabinets/${id}/restocks`, { fill: true })
        document.getElementById('stock-sent').textContent = '已登记补货，专柜收到后更新库存'
      } catch (e) {
        actionError('stock-error', e)
      }
    })
    document.getElementById('planogram-form')?.addEventListener('submit', async (ev) => {
      ev.preventDefault()
      const parsed = parsePlanogram(String(new FormData(ev.target).get('slots') ?? ''))
      if (parsed.error) {
        document.getElementById('stock-error').textContent = parsed.error
        return
      }
      try {
        await api('PUT', `/cabinets/${id}/planogram`, { slots: parsed.slots })
        await card(cabinetId)
        document.getElementById('stock-sent').textContent = '货道配置已下发'
      } catch (e) {
        actionError('stock-error', e)
      }
    })
  }

  async function restockView(query) {
    const params = new URLSearchParams(query)
    const county = params.get('county') ?? ''
    const q = county ? `&county=${encodeURIComponent(county)}` : ''
    const list = await api('GET', `/restock-list?format=json${q}`)
    const file = (format, label) => `<a href="/api/v1/restock-list?format=${format}${q}" download>${label}</a>`
    const totals = (ts) =>
      `<table class="totals"><thead><tr><th>${F.sku}</th><th>${F.productName}</th><th class="num">${F.need}</th></tr></thead><tbody>${ts
        .map((t) => `<tr><td>${esc(t.sku)}</td><td>${esc(t.productName ?? '')}</td><td class="num">${t.need}</td></tr>`)
        .join('')}</tbody></table>`
    const counties = list.counties
      .map((c) => {
        const lines = c.sites
          .flatMap((s) => s.cabinets.flatMap((k) => k.lines.map((l) => `<tr><td>${esc(s.siteName ?? '未定点')}</td><td><a href="#/cabinet/${encodeURIComponent(k.cabinetId)}">${esc(k.cabinetId)}</a></td><td>${esc(l.slot)}</td><td>${esc(l.productName ?? l.sku)}</td><td class="num">${l.qty} / ${l.par}</td><td class="num">${l.need}</td></tr>`)))
          .join('')
        return `<div class="card" data-county="${esc(c.countyCode)}"><h2>${esc(c.countyName)}</h2>
          <div class="table-wrap"><table><thead><tr><th>${F.siteName}</th><th>${F.cabinetId}</th><th>${F.slot}</th><th>${F.productName}</th><th class="num">${F.qty} / ${F.par}</th><th class="num">${F.need}</th></tr></thead><tbody>${lines}</tbody></table></div>
          <h3>装车合计</h3>${totals(c.totals)}</div>`
      })
      .join('')
    app.innerHTML = `<h1>补货单</h1>
      <form class="filters" id="restock-filter"><label>区县代码 <input name="county" value="${esc(county)}" size="8" inputmode="numeric"></label><button type="submit">筛选</button>
      <span class="muted">下载：${file('csv', 'CSV')} · ${file('xlsx', 'Excel')}</span></form>
      ${counties || empty('没有低于标准库存的货道')}
      ${list.counties.length > 1 ? `<div class="card"><h2>全部装车合计</h2>${totals(list.totals)}</div>` : ''}`
    document.getElementById('restock-filter').addEventListener('submit', (ev) => {
      ev.preventDefault()
      const c = String(new FormData(ev.target).get('county') ?? '').trim()
      location.hash = c ? `#/restock?county=${encodeURIComponent(c)}` : '#/restock'
    })
  }

  window.stockUi = { card, restockView }
})()
