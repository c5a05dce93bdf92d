/* global window, document */
// 通知 page (issue 16 §6, §7): the user's webhook subscriptions to alerts —
// add, test, delete — and the recent deliveries. app.js routes #/notifications
// here and passes its helpers; everything goes through /api/v1, so the
// server's rules (own subscriptions only, no auditors) apply unchanged.
'use strict'

window.FleetNotifications = (() => {
  const FORMATS = ['wecom', 'dingtalk', 'json']
  const STATE_CLASS = { sent: 'ok', failed: 'bad', skipped: 'muted', pending: 'due' }

  function form(ZH, esc) {
    const formats = FORMATS.map((f) => `<option value="${f}">${esc(ZH.labels.notifyFormat[f])}</option>`).join('')
    const kinds = Object.entries(ZH.labels.alertKind)
      .map(([k, label]) => `<label><input type="checkbox" name="kinds" value="${esc(k)}"> ${esc(label)}</label>`)
      .join(' ')
    return `<form id="notify-form" class="card">
        <div class="filters">
          <label>网址 <input name="url" type="url" required size="48" autocomplete="off" placeholder="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…"></label>
          <label>格式 <select name="format">${formats}</select></label>
          <label>级别 <select name="minSeverity"><option value="warning">全部</option><option value="critical">仅严重</option></select></label>
          <label id="secret-field" hidden>加签密钥 <input name="secret" autocomplete="off" placeholder="SEC…"></label>
        </div>
        <div class="filters"><span class="muted">告警类型（不选为全部）：</span>${kinds}</div>
        <button type="submit" class="primary">添加订阅</button>
        <div class="error" id="notify-error"></div>
      </form>`
  }

  async function view({ api, app, esc, bj, ZH, empty, showError, me }) {
    const [subs, recent] = await Promise.all([api('GET', '/notifications/subscriptions'), api('GET', '/notifications/deliveries?limit=50')])
    const mayAdd = me.role !== 'auditor'
    const kindsText = (kinds) => (kinds ? kinds.map((k) => ZH.labels.alertKind[k] ?? k).join('、') : '全部')
    const subRows = subs.subscriptions
      .map(
        (s) => `<tr data-subscription="${esc(s.subscriptionId)}"><td>${esc(ZH.labels.notifyFormat[s.format] ?? s.format)}</td><td class="wrap">${esc(s.url)}${s.hasSecret ? '（加签）' : ''}</td><td class="wrap">${esc(kindsText(s.kinds))}</td><td>${s.minSeverity === 'critical' ? '仅严重' : '全部'}</td>${me.role === 'admin' ? `<td>${esc(s.owner)}</td>` : ''}<td><button type="button" data-test="${esc(s.subscriptionId)}">测试</button> <button type="button" data-delete="${esc(s.subscriptionId)}">删除</button> <span class="test-result"></span></td></tr>`,
      )
      .join('')
    const deliveryRows = recent.deliveries
      .map(
        (d) => `<tr><td>${esc(bj(d.createdAt))}</td><td>${esc(ZH.labels.notifyEvent[d.event] ?? d.event)}</td><td class="wrap">${esc(d.message ?? d.alertId)}</td><td class="${STATE_CLASS[d.state] ?? ''}" data-state="${esc(d.state)}">${esc(ZH.labels.notifyState[d.state] ?? d.state)}${d.inDigest ? '（汇总）' : ''}</td><td class="num">${d.attempts}</td><td class="wrap">${esc(d.lastError ?? '')}</td></tr>`,
      )
      .join('')
    app.innerHTML = `
      <h1>通知</h1>
      <p class="muted">告警发生和恢复时推送到企业微信群、钉钉群机器人或任意网址（JSON）。只推送您有权查看的告警；短时间内大量告警合并为一条汇总。</p>
      ${mayAdd ? form(ZH, esc) : '<p class="muted">审计账号只读，不能订阅告警通知。</p>'}
      <h2>我的订阅</h2>
      ${subRows ? `<div class="table-wrap"><table data-testid="subscriptions"><thead><tr><th>格式</th><th>网址</th><th>告警类型</th><th>级别</th>${me.role === 'admin' ? '<th>订阅人</th>' : ''}<th>操作</th></tr></thead><tbody>${subRows}</tbody></table></div>` : empty('尚未订阅告警通知')}
      <h2>最近发送</h2>
      ${deliveryRows ? `<div class="table-wrap"><table data-testid="deliveries"><thead><tr><th>时间</th><th>事件</th><th>告警</th><th>状态</th><th>次数</th><th>最后错误</th></tr></thead><tbody>${deliveryRows}</tbody></table></div>` : empty('暂无发送记录')}`
    const again = () => view({ api, app, esc, bj, ZH, empty, showError, me }).catch(showError)
    const f = document.getElementById('notify-form')
    if (f) {
      const secretField = document.getElementById('secret-field')
      f.format.addEventListener('change', () => (secretField.hidden = f.format.value !== 'dingtalk'))
      f.addEventListener('submit', async (e) => {
        e.preventDefault()
        const kinds = [...f.querySelectorAll('input[name=kinds]:checked')].map((i) => i.value)
        const body = { url: f.url.value.trim(), format: f.format.value, minSeverity: f.minSeverity.value }
        if (kinds.length) body.kinds = kinds
        if (f.format.value === 'dingtalk' && f.secret.value.trim()) body.secret = f.secret.value.trim()
        try {
          await api('POST', '/notifications/subscriptions', body)
          await again()
        } catch (err) {
          document.getElementById('notify-error').textContent = err.message
        }
      })
    }
    for (const b of app.querySelectorAll('button[data-test]')) {
      b.addEventListener('click', async () => {
        const out = b.parentElement.querySelector('.test-result')
        out.textContent = '发送中…'
        try {
          const r = await api('POST', `/notifications/subscriptions/${encodeURIComponent(b.dataset.test)}/test`)
          out.className = `test-result ${r.delivered ? 'ok' : 'bad'}`
          out.textContent = r.delivered ? `已送达（HTTP ${r.status}）` : `未送达：${r.error}`
        } catch (err) {
          out.className = 'test-result bad'
          out.textContent = err.message
        }
      })
    }
    for (const b of app.querySelectorAll('button[data-delete]')) {
      b.addEventListener('click', async () => {
        if (!window.confirm('删除这条订阅？尚未发送的通知将一并取消。')) return
        try {
          await api('DELETE', `/notifications/subscriptions/${encodeURIComponent(b.dataset.delete)}`)
          await again()
        } catch (err) {
          showError(err)
        }
      })
    }
  }

  return { view }
})()
