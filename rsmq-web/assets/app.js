// rsmq dashboard: live updates, throughput, and the queue page's messages and actions.
// Plain script, no build step. Every name and body goes into the page as text
// (textContent, value, title), never as HTML.
'use strict';

(function () {
  // The theme first, before the page paints: the visitor's choice, else the system's.
  var saved = null;
  try { saved = localStorage.getItem('rsmq-theme'); } catch (e) { /* storage off */ }
  if (saved === 'dark' || saved === 'light') document.documentElement.dataset.theme = saved;

  var S = {
    base: '', csrf: '', readOnly: true, queue: '', queues: [],
    rates: {},            // queue name -> [{t, sent, recv}], the last few seconds
    browse: null,         // null: not known yet; true: the paged browse route; false: peek
    search: false,        // the search route answers
    canMove: true, canRedrive: true,
    cursor: null, history: [], next: null,
    searching: null,      // {by, text} while showing search results
    open: {},             // message id -> true: its whole body is shown under its row
    signature: '',
  };

  document.addEventListener('DOMContentLoaded', start);

  function start() {
    S.base = meta('rsmq-base');
    S.csrf = meta('csrf-token');
    S.readOnly = document.body.dataset.readOnly !== 'false';
    S.queue = document.body.dataset.queue || '';
    themeButton();
    var page = document.body.dataset.page;
    if (page === 'queue') queuePage();
    if (page === 'list' && $('queue-filter')) $('queue-filter').addEventListener('input', filterQueues);
    if (page === 'list' || page === 'queue') live(page);
    else $('live').hidden = true;
  }

  function meta(name) {
    var m = document.querySelector('meta[name="' + name + '"]');
    return m ? m.getAttribute('content') : '';
  }

  function $(id) { return document.getElementById(id); }

  function el(tag, props, children) {
    var e = document.createElement(tag);
    if (props) Object.keys(props).forEach(function (k) {
      if (k === 'text') e.textContent = props[k];
      else if (k === 'class') e.className = props[k];
      else if (k === 'title') e.title = props[k];
      else e.setAttribute(k, props[k]);
    });
    (children || []).forEach(function (c) { if (c) e.appendChild(c); });
    return e;
  }

  // ---- theme ----

  function themeButton() {
    var b = $('theme');
    if (!b) return;
    var label = function () { b.textContent = effectiveTheme() === 'dark' ? 'Light mode' : 'Dark mode'; };
    label();
    b.addEventListener('click', function () {
      var next = effectiveTheme() === 'dark' ? 'light' : 'dark';
      document.documentElement.dataset.theme = next;
      try { localStorage.setItem('rsmq-theme', next); } catch (e) { /* storage off */ }
      label();
    });
  }

  function effectiveTheme() {
    var t = document.documentElement.dataset.theme;
    if (t) return t;
    return window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
  }

  // ---- talking to the API ----

  function api(method, path, body) {
    var opts = { method: method, headers: { 'Accept': 'application/json' }, credentials: 'same-origin' };
    if (method !== 'GET') opts.headers['X-CSRF-Token'] = S.csrf;
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    return fetch(S.base + path, opts).then(function (res) {
      return res.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { /* not JSON */ }
        // Credentials gone (a session signed out or expired, a server restarted): the page
        // reloads, which asks for them again.
        if (res.status === 401) location.reload();
        if (!res.ok) {
          var err = new Error(data && data.error ? data.error.message : res.status + ' ' + res.statusText);
          err.status = res.status;
          err.code = data && data.error ? data.error.name : '';
          throw err;
        }
        return data;
      });
    });
  }

  // A route this server does not have (yet): hide the feature.
  function missing(err) {
    return (err.status === 404 && err.code !== 'queueNotFound') || err.status === 405;
  }

  function q(path) { return path.replace('{q}', encodeURIComponent(S.queue)); }

  var toastTimer = null;
  function toast(text, isError) {
    var t = $('toast');
    t.textContent = text;
    t.className = isError ? 'toast error' : 'toast';
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { t.hidden = true; }, isError ? 8000 : 3500);
  }
  function fail(err) { toast(err.message || String(err), true); }

  // ---- formatting ----

  function age(secs) {
    var s = Math.max(0, Math.round(secs));
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
    if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor(s % 3600 / 60) + ' min';
    return Math.floor(s / 86400) + ' d ' + Math.floor(s % 86400 / 3600) + ' h';
  }

  function bytes(n) {
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    var v = n, u = 0;
    while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
    return u === 0 ? n + ' B' : v.toFixed(1) + ' ' + units[u];
  }

  function rate(r) {
    if (r === null) return '–';
    return r < 10 ? r.toFixed(1) : String(Math.round(r));
  }

  function pad(n) { return n < 10 ? '0' + n : String(n); }

  // Epoch milliseconds as local date and time, with how long ago (or until).
  function when(ms) {
    var d = new Date(ms);
    var text = d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' +
      pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
    var diff = (Date.now() - ms) / 1000;
    return { text: text, rel: diff >= 0 ? age(diff) + ' ago' : 'in ' + age(-diff), iso: d.toISOString() };
  }

  function timeCell(ms) {
    if (!ms) return el('td', { text: 'never', class: 'time muted' });
    var w = when(ms);
    return el('td', { text: w.rel, title: w.text + ' (' + w.iso + ')', class: 'time' });
  }

  // ---- live updates ----

  function live(page) {
    var dot = $('live');
    if (!window.EventSource) { if (dot) dot.hidden = true; return; }
    var es = new EventSource(S.base + '/api/events');
    es.addEventListener('open', function () {
      dot.className = 'live on'; dot.title = 'live updates: on';
    });
    es.addEventListener('error', function () {
      dot.className = 'live off'; dot.title = 'live updates: reconnecting';
      // Closed for good (the server refused it): if for lack of credentials, api() reloads.
      if (es.readyState === EventSource.CLOSED) api('GET', '/api/overview').catch(function () {});
    });
    es.addEventListener('failure', function (ev) {
      dot.className = 'live off';
      var data = null;
      try { data = JSON.parse(ev.data); } catch (e) { /* ignore */ }
      dot.title = 'Redis: ' + (data && data.error ? data.error.message : 'no answer');
    });
    es.addEventListener('overview', function (ev) {
      var o;
      try { o = JSON.parse(ev.data); } catch (e) { return; }
      dot.className = 'live on'; dot.title = 'live updates: on';
      S.queues = o.queues.map(function (x) { return x.name; });
      sample(o);
      if (page === 'list') showOverview(o);
      else showQueue(o);
    });
    window.addEventListener('pagehide', function () { es.close(); });
  }

  // Throughput over the last ten seconds, from successive totals.
  function sample(o) {
    o.queues.forEach(function (x) {
      var s = S.rates[x.name] || (S.rates[x.name] = []);
      s.push({ t: o.time, sent: x.totalsent, recv: x.totalrecv });
      while (s.length > 2 && o.time - s[0].t > 10000) s.shift();
    });
  }

  function rates(name) {
    var s = S.rates[name];
    if (!s || s.length < 2) return { sent: null, recv: null };
    var a = s[0], b = s[s.length - 1], dt = (b.t - a.t) / 1000;
    if (dt <= 0) return { sent: null, recv: null };
    return { sent: Math.max(0, b.sent - a.sent) / dt, recv: Math.max(0, b.recv - a.recv) / dt };
  }

  function showOverview(o) {
    var table = $('queues');
    if (!table) { location.reload(); return; } // the page was rendered without Redis
    // Rows are kept and their cells rewritten, so hovering or selecting text survives.
    var body = table.tBodies[0];
    var old = {};
    Array.prototype.forEach.call(body.rows, function (tr) { old[tr.dataset.queue] = tr; });
    o.queues.forEach(function (x) {
      var tr = old[x.name];
      delete old[x.name];
      if (!tr) {
        var link = el('a', { text: x.name });
        link.href = S.base + '/ui/queues/' + encodeURIComponent(x.name);
        tr = el('tr', null, [el('td', null, [link])]);
        for (var i = 0; i < 6; i++) tr.appendChild(el('td', { class: 'num' }));
        tr.dataset.queue = x.name;
      }
      var r = rates(x.name);
      var cells = [x.msgs, x.visible, Math.max(0, x.msgs - x.visible),
        x.oldest_age === null ? '–' : age(x.oldest_age), rate(r.sent), rate(r.recv)];
      cells.forEach(function (v, i) {
        var td = tr.cells[i + 1];
        if (td.textContent !== String(v)) td.textContent = String(v);
      });
      body.appendChild(tr); // in the overview's order
    });
    Object.keys(old).forEach(function (name) { body.removeChild(old[name]); });
    $('no-queues').hidden = o.queues.length > 0;
    filterQueues();
    var m = o.redis;
    $('memory').textContent = bytes(m.used_memory) + (m.maxmemory ? ' used of ' + bytes(m.maxmemory) : ' used, no limit') +
      ' (policy ' + m.policy + ')';
    $('evict').hidden = !m.may_evict_messages;
    $('evict-policy').textContent = m.policy;
    var w = $('workers');
    w.textContent = o.workers === 0 ? 'no live workers' : o.workers === 1 ? '1 live worker' : o.workers + ' live workers';
    w.className = o.workers === 0 ? 'warn' : '';
  }

  // Shows only the queues whose name holds the filter's text (any case).
  function filterQueues() {
    var f = $('queue-filter').value.trim().toLowerCase();
    var body = $('queues').tBodies[0], shown = 0;
    Array.prototype.forEach.call(body.rows, function (tr) {
      var match = !f || tr.dataset.queue.toLowerCase().indexOf(f) >= 0;
      tr.hidden = !match;
      if (match) shown++;
    });
    $('no-match').hidden = !(f && body.rows.length > 0 && shown === 0);
  }

  function showQueue(o) {
    var x = null;
    o.queues.forEach(function (y) { if (y.name === S.queue) x = y; });
    if (!x) { $('msg-note').textContent = 'This queue no longer exists.'; return; }
    // Hidden: not receivable now (the attribute hiddenmsgs, as the JavaScript client counts
    // it, also holds messages that became receivable earlier in the current second).
    var shown = { msgs: x.msgs, visible: x.visible, hidden: Math.max(0, x.msgs - x.visible),
      totalsent: x.totalsent, totalrecv: x.totalrecv };
    document.querySelectorAll('dd[data-attr]').forEach(function (dd) {
      dd.textContent = String(shown[dd.dataset.attr]);
    });
    fillTargets();
    var sig = [x.msgs, x.hiddenmsgs, x.totalsent, x.totalrecv, x.modified].join('/');
    if (S.signature && sig !== S.signature && !S.searching && !busy()) loadMessages();
    S.signature = sig;
  }

  // Someone is typing or choosing in the messages table: do not redraw it under them.
  function busy() {
    var a = document.activeElement;
    return a && a !== document.body && $('messages').contains(a) && a.tagName !== 'BUTTON';
  }

  // ---- the queue page ----

  function queuePage() {
    $('refresh').addEventListener('click', function () { loadMessages(); });
    $('next').addEventListener('click', function () {
      if (S.next === null) return;
      S.history.push(S.cursor);
      S.cursor = S.next;
      loadMessages();
    });
    $('prev').addEventListener('click', function () {
      if (!S.history.length) return;
      S.cursor = S.history.pop();
      loadMessages();
    });
    setupSearch();
    if (!S.readOnly) setupActions();
    // A message's id shows (and hides) its whole body under its row, read-only too.
    $('messages').addEventListener('click', function (ev) {
      var b = ev.target.closest('button[data-action="detail"]');
      if (!b) return;
      var tr = b.closest('tr'), id = tr.dataset.id, next = tr.nextElementSibling;
      if (next && next.dataset.detailFor === id) {
        next.remove();
        delete S.open[id];
        b.setAttribute('aria-expanded', 'false');
      } else {
        tr.after(detailRow(tr.message));
        S.open[id] = true;
        b.setAttribute('aria-expanded', 'true');
      }
    });
    loadMessages();
  }

  var PAGE = 20;

  function loadMessages() {
    var note = $('msg-note');
    if (S.searching) return runSearch();
    if (S.browse !== false) {
      var path = q('/api/queues/{q}/messages') + '?limit=' + PAGE + (S.cursor ? '&cursor=' + encodeURIComponent(S.cursor) : '');
      return api('GET', path).then(function (data) {
        if (S.browse === null) { S.browse = true; laterFeatures(); }
        S.next = data.next === undefined ? null : data.next;
        note.textContent = data.messages.length ? 'All messages, hidden ones included, oldest first.' : 'No messages.';
        showMessages(data.messages);
      }, function (err) {
        if (missing(err)) { S.browse = false; S.canMove = false; S.canRedrive = false; laterFeatures(); return loadMessages(); }
        fail(err);
      });
    }
    return api('GET', q('/api/queues/{q}/peek') + '?n=' + PAGE).then(function (data) {
      S.next = null;
      note.textContent = data.messages.length
        ? 'The next ' + data.messages.length + ' receivable message' + (data.messages.length === 1 ? '' : 's') + ' (hidden ones are not listed).'
        : 'No receivable messages.';
      showMessages(data.messages);
    }, fail);
  }

  function laterFeatures() {
    var box = $('redrive-box');
    if (box) box.hidden = !S.canRedrive || S.readOnly;
    fillTargets();
  }

  function showMessages(list) {
    var body = $('messages').tBodies[0], rows = [];
    list.forEach(function (m) {
      rows.push(messageRow(m));
      if (S.open[m.id]) rows.push(detailRow(m));
    });
    body.replaceChildren.apply(body, rows);
    $('next').hidden = S.next === null;
    $('prev').hidden = !S.history.length;
  }

  function messageRow(m) {
    var text = String(m.message);
    var preview = text.length > 200 ? text.slice(0, 200) + '…' : text;
    var state;
    if (m.hidden) {
      state = el('td', { class: 'hiddenmsg', text: 'hidden' });
      if (m.visible_at) {
        var w = when(m.visible_at);
        state.textContent = 'hidden, visible ' + w.rel;
        state.title = w.text;
      }
    } else {
      state = el('td', { text: 'visible' });
    }
    var toggle = el('button', { type: 'button', class: 'link mono', text: m.id, 'data-action': 'detail',
      'aria-expanded': S.open[m.id] ? 'true' : 'false', title: 'Show the whole message' });
    var tr = el('tr', null, [
      el('td', { class: 'id' }, [toggle]),
      el('td', { class: 'body mono', text: preview, title: text.length > 200 ? text.slice(0, 2000) : '' }),
      el('td', { class: 'num', text: String(m.rc) }),
      timeCell(m.sent),
      timeCell(m.fr),
      state,
      S.readOnly ? el('td', { class: 'ctl' }) : controls(m),
    ]);
    tr.dataset.id = m.id;
    tr.message = m;
    return tr;
  }

  // The whole body under a message's row: indented when it is JSON, as text always.
  function detailRow(m) {
    var text = String(m.message), shown = text, kind = 'text';
    try {
      var v = JSON.parse(text);
      if (v !== null && typeof v === 'object') { shown = JSON.stringify(v, null, 2); kind = 'JSON'; }
    } catch (e) { /* not JSON */ }
    var size = new TextEncoder().encode(text).length;
    var tr = el('tr', { class: 'detail' }, [
      el('td', { colspan: '7' }, [
        el('pre', { class: 'full mono', text: shown }),
        el('div', { class: 'note', text: size + ' byte' + (size === 1 ? '' : 's') + ', ' + kind + ' · id ' + m.id }),
      ]),
    ]);
    tr.dataset.detailFor = m.id;
    return tr;
  }

  function controls(m) {
    var vt = el('input', { type: 'number', min: '0', step: '1', value: '30', 'aria-label': 'Visibility timeout in seconds', title: 'seconds until visible' });
    var setVt = el('button', { type: 'button', class: 'small', text: 'Set vt', 'data-action': 'vt',
      title: 'Hide the message for this many seconds (0: receivable now)' });
    setVt.addEventListener('click', function () {
      api('PUT', q('/messages/{q}/') + encodeURIComponent(m.id) + '?vt=' + encodeURIComponent(vt.value || '0'))
        .then(function (r) { toast(r.result ? 'Visible in ' + vt.value + ' s' : 'No such message (received or deleted meanwhile)'); loadMessages(); }, fail);
    });
    var del = el('button', { type: 'button', class: 'small danger', text: 'Delete', 'data-action': 'delete' });
    del.addEventListener('click', function () {
      api('DELETE', q('/messages/{q}/') + encodeURIComponent(m.id))
        .then(function (r) { toast(r.result ? 'Deleted ' + m.id : 'No such message'); loadMessages(); }, fail);
    });
    var td = el('td', { class: 'ctl' }, [vt, document.createTextNode(' '), setVt, document.createTextNode(' ')]);
    if (S.browse && S.canMove) {
      var to = el('select', { 'aria-label': 'Move to queue', class: 'targets' });
      targetsInto(to);
      var mv = el('button', { type: 'button', class: 'small', text: 'Move', 'data-action': 'move' });
      mv.addEventListener('click', function () {
        if (!to.value) return;
        api('POST', q('/api/queues/{q}/messages/') + encodeURIComponent(m.id) + '/move', { to: to.value })
          .then(function (r) { toast(r.result ? 'Moved to ' + to.value : 'No such message'); loadMessages(); }, function (err) {
            if (missing(err)) { S.canMove = false; toast('Moving messages is not available on this server', true); loadMessages(); return; }
            fail(err);
          });
      });
      td.appendChild(to);
      td.appendChild(document.createTextNode(' '));
      td.appendChild(mv);
      td.appendChild(document.createTextNode(' '));
    }
    td.appendChild(del);
    return td;
  }

  // The other queues, as choices of a move or redrive target.
  function targetsInto(select) {
    var keep = select.value;
    var names = S.queues.filter(function (n) { return n !== S.queue; });
    select.replaceChildren.apply(select, names.map(function (n) { return el('option', { value: n, text: n }); }));
    if (names.indexOf(keep) >= 0) select.value = keep;
    select.disabled = names.length === 0;
  }

  function fillTargets() {
    var r = $('redrive-to');
    if (r && document.activeElement !== r) targetsInto(r);
    document.querySelectorAll('select.targets').forEach(function (s) {
      if (document.activeElement !== s) targetsInto(s);
    });
  }

  // ---- search ----

  function setupSearch() {
    var form = $('search');
    // Probe once: a server without the search route answers 404 and the form stays hidden.
    api('GET', q('/api/queues/{q}/search') + '?id=0').then(function () { form.hidden = false; }, function (err) {
      form.hidden = missing(err);
    });
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var text = $('search-text').value;
      if (!text) { clearSearch(); return; }
      S.searching = { by: $('search-by').value, text: text };
      S.cursor = null; S.history = [];
      $('search-clear').hidden = false;
      runSearch();
    });
    $('search-clear').addEventListener('click', clearSearch);
  }

  function clearSearch() {
    S.searching = null; S.cursor = null; S.history = [];
    $('search-text').value = '';
    $('search-clear').hidden = true;
    loadMessages();
  }

  function runSearch() {
    var s = S.searching;
    var path = q('/api/queues/{q}/search') + '?' + s.by + '=' + encodeURIComponent(s.text) +
      (S.cursor ? '&cursor=' + encodeURIComponent(S.cursor) : '');
    return api('GET', path).then(function (data) {
      S.next = data.next === undefined ? null : data.next;
      var n = data.messages.length;
      $('msg-note').textContent = n + ' found' + (data.scanned !== undefined ? ' (' + data.scanned + ' scanned)' : '') +
        (S.next !== null ? '; more may follow' : '') + '.';
      showMessages(data.messages);
    }, fail);
  }

  // ---- queue actions ----

  function setupActions() {
    var form = $('send');
    if (form) form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var body = { message: $('send-body').value };
      var delay = Number($('send-delay').value || 0);
      if (delay > 0) body.delay = delay;
      $('send-button').disabled = true;
      api('POST', q('/messages/{q}'), body).then(function (r) {
        toast('Sent ' + r.id);
        $('send-body').value = '';
        loadMessages();
      }, fail).then(function () { $('send-button').disabled = false; });
    });

    var purge = $('purge');
    if (purge) {
      purge.addEventListener('click', function () { $('purge-confirm').hidden = false; purge.hidden = true; });
      $('purge-no').addEventListener('click', function () { $('purge-confirm').hidden = true; purge.hidden = false; });
      $('purge-yes').addEventListener('click', function () {
        $('purge-confirm').hidden = true; purge.hidden = false;
        api('POST', q('/api/queues/{q}/purge')).then(function (r) {
          toast('Removed ' + r.removed + ' message' + (r.removed === 1 ? '' : 's'));
          S.cursor = null; S.history = [];
          loadMessages();
        }, fail);
      });
    }

    var redrive = $('redrive');
    if (redrive) {
      var to = $('redrive-to');
      var confirmBox = $('redrive-confirm');
      var target = null;
      redrive.addEventListener('click', function () {
        if (!to.value) return;
        target = to.value;
        api('POST', q('/api/queues/{q}/redrive'), { to: target, dry_run: true }).then(function (r) {
          var n = r.would_move;
          $('redrive-count').textContent = n + ' message' + (n === 1 ? '' : 's') + ' would move to ' + target + '.';
          $('redrive-yes').hidden = n === 0;
          confirmBox.hidden = false;
        }, redriveFailed);
      });
      $('redrive-no').addEventListener('click', function () { confirmBox.hidden = true; });
      $('redrive-yes').addEventListener('click', function () {
        confirmBox.hidden = true;
        api('POST', q('/api/queues/{q}/redrive'), { to: target }).then(function (r) {
          toast('Moved ' + r.moved + ' to ' + target);
          S.cursor = null; S.history = [];
          loadMessages();
        }, redriveFailed);
      });
    }
  }

  function redriveFailed(err) {
    if (missing(err)) { S.canRedrive = false; laterFeatures(); toast('Redrive is not available on this server', true); return; }
    fail(err);
  }
})();
