// The files under /static/, compiled into muzzled: nothing is read from disk, so no URL can name
// a file, and the console a box serves always matches its pages. They are kept here as raw
// strings (plain CSS, ES2017 JavaScript, SVG) so they are read and changed like any source.
#include <array>
#include <string_view>

#include "mgmt/web/pages.h"

namespace muzzle::web {
namespace {

constexpr std::string_view kCss = R"css(/* The console's only stylesheet. One column on a phone, two side by side from 700px. */
:root {
  --fg: #1d2125; --muted: #5c6670; --bg: #fff; --panel: #f4f6f8; --line: #d5dbe1;
  --accent: #0b5cad; --deny: #b42318; --allow: #17703a; --warn-bg: #fff4e5; --warn: #8a4b00;
  color-scheme: light dark;
}
@media (prefers-color-scheme: dark) {
  :root {
    --fg: #e4e7eb; --muted: #9aa4ae; --bg: #15191d; --panel: #1f252b; --line: #36404a;
    --accent: #6cb0f5; --deny: #ff8a80; --allow: #7bd88f; --warn-bg: #3a2c12; --warn: #ffc46b;
  }
}
* { box-sizing: border-box; }
body {
  margin: 0; background: var(--bg); color: var(--fg);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
a { color: var(--accent); }
main { max-width: 1200px; margin: 0 auto; padding: 0 1rem 3rem; }
h1 { font-size: 1.5rem; margin: 1rem 0 .75rem; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
code, pre, .mac, time { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .92em; }

.top {
  display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1.5rem;
  padding: .5rem 1rem; background: var(--panel); border-bottom: 1px solid var(--line);
}
.brand { font-weight: 700; font-size: 1.2rem; text-decoration: none; color: var(--fg); }
.top nav ul { display: flex; gap: 1rem; list-style: none; margin: 0; padding: 0; }
.top nav a { text-decoration: none; padding: .25rem 0; }
.top nav a[aria-current="page"] { font-weight: 700; border-bottom: 2px solid var(--accent); }
.who { margin-left: auto; display: flex; align-items: center; gap: .5rem; }
.who form { display: inline; }
.role { color: var(--muted); }

.notice { padding: .5rem .75rem; border-left: 4px solid var(--accent); background: var(--panel); }
.notice.error { border-left-color: var(--deny); background: var(--warn-bg); color: var(--deny); }
.pending { padding: .25rem 1rem 1rem; border: 2px solid var(--warn); background: var(--warn-bg); }
.countdown { font-weight: 700; }

.columns { display: grid; grid-template-columns: 1fr 1fr; gap: 0 2rem; }
@media (max-width: 700px) {
  .columns { grid-template-columns: 1fr; }
  .who { margin-left: 0; }
  main { padding: 0 .5rem 2rem; }
}

.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
thead th { color: var(--muted); font-weight: 600; white-space: nowrap; }
tbody th { font-weight: 400; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.denied { color: var(--deny); }
.allowed { color: var(--allow); }
.warn { color: var(--warn); font-weight: 600; }
.none, .ago, .hint, .mac { color: var(--muted); }
tr.current { background: var(--panel); }
td.actions form { display: inline; margin-left: .5rem; }

.badge {
  display: inline-block; padding: 0 .4rem; border-radius: .6rem; font-size: .8em;
  font-weight: 600; background: var(--panel); border: 1px solid var(--line);
}
.badge.quarantined { color: #fff; background: var(--deny); border-color: var(--deny); }

dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: .5rem 0; }
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }

button, select, input {
  font: inherit; padding: .35rem .75rem; border-radius: .3rem;
  border: 1px solid var(--line); background: var(--bg); color: var(--fg);
}
button { cursor: pointer; background: var(--panel); }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.danger { color: var(--deny); border-color: var(--deny); }
button.link { border: none; background: none; color: var(--accent); padding: 0; text-decoration: underline; }
.buttons { display: flex; gap: .5rem; margin: .5rem 0; }
form.assign { margin: .5rem 0; }

.chart { margin: 0; }
.chart svg { width: 100%; height: auto; max-height: 220px; }
.chart .bar { fill: var(--deny); }
.chart .slot { fill: transparent; }
.chart .slot:hover { fill: var(--panel); }
.chart text.axis { fill: var(--muted); font-size: 11px; }
.chart line.axis { stroke: var(--line); }
.chart figcaption { color: var(--muted); font-size: .9em; }
table.compact { width: auto; }

pre.diff { background: var(--panel); padding: .75rem; overflow-x: auto; line-height: 1.35; }
pre.diff .add { color: var(--allow); }
pre.diff .del { color: var(--deny); }
pre.diff .hunk { color: var(--accent); }
pre.diff .file { color: var(--muted); font-weight: 700; }

.filter { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem; }
.filter input { flex: 1 1 16rem; }
.stream-state.live { color: var(--allow); }
.stream-state.reconnecting, .stream-state.closed { color: var(--warn); font-weight: 600; }
ol.events { list-style: none; padding: 0; margin: 0; font-size: .92em; }
ol.events li { display: flex; flex-wrap: wrap; gap: 0 .75rem; padding: .3rem 0; border-bottom: 1px solid var(--line); }
ol.events .name { font-weight: 600; min-width: 6rem; }
ol.events .text { flex: 1 1 20rem; overflow-wrap: anywhere; font-family: ui-monospace, monospace; }
ol.events .kind-deny .name { color: var(--deny); }
ol.events .kind-allow .name { color: var(--allow); }
ol.events .kind-new-device .name { color: var(--accent); }

.login { max-width: 22rem; margin: 3rem auto; }
.login label { display: block; font-weight: 600; margin-bottom: .2rem; }
.login input { width: 100%; }
)css";

constexpr std::string_view kJs = R"js(// The console's only script (the Content-Security-Policy allows no other): the live events
// list, the commit-confirmed countdown, and a question before Quarantine and Roll back. Every
// page works without it. Text from the box goes in with textContent, never as markup: an event
// carries what a device wrote.
'use strict';

(function () {
  function pad(n) {
    return (n < 10 ? '0' : '') + n;
  }

  // UTC, no locale, as the pages print times: "2026-12-03 14:05:09".
  function formatUtc(date) {
    return date.getUTCFullYear() + '-' + pad(date.getUTCMonth() + 1) + '-' +
      pad(date.getUTCDate()) + ' ' + pad(date.getUTCHours()) + ':' +
      pad(date.getUTCMinutes()) + ':' + pad(date.getUTCSeconds());
  }

  // Ask before a button that cuts a device off or changes the running policy.
  function confirmForms() {
    document.querySelectorAll('form[data-confirm]').forEach(function (form) {
      form.addEventListener('submit', function (event) {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });
  }

  // "Rolls back in 4:59." The page gives the box's clock (data-now), so a browser whose clock
  // is off still counts down to the box's deadline.
  function countdowns() {
    var loaded = Date.now() / 1000;
    document.querySelectorAll('[data-deadline]').forEach(function (el) {
      var deadline = Number(el.dataset.deadline);
      var skew = el.dataset.now ? Number(el.dataset.now) - loaded : 0;
      var passedAtLoad = deadline <= loaded + skew;
      var timer = setInterval(tick, 1000);
      function tick() {
        var left = Math.round(deadline - (Date.now() / 1000 + skew));
        if (left > 0) {
          el.textContent = 'Rolls back in ' + Math.floor(left / 60) + ':' + pad(left % 60) + '.';
          return;
        }
        clearInterval(timer);
        if (passedAtLoad) {
          el.textContent = 'The deadline has passed: reload to see what the box runs now.';
          return;
        }
        // Only a countdown that ran out on this page reloads it, so a page opened after the
        // deadline cannot reload itself forever. The delay leaves the box time to roll back.
        el.textContent = 'Rolling back…';
        setTimeout(function () { window.location.reload(); }, 2000);
      }
      tick();
    });
  }

  // The events page: newest first, at most data-max rows, filtered as the user types.
  function eventsPage() {
    var list = document.getElementById('event-list');
    if (!list) return;
    var state = document.getElementById('event-state');
    var filter = document.getElementById('event-filter');
    var count = document.getElementById('event-count');
    var max = Number(list.dataset.max) || 500;
    if (!window.EventSource) {
      state.textContent = 'This browser cannot show live events: use muzzlectl events.';
      return;
    }

    function query() {
      return filter.value.trim().toLowerCase();
    }
    function showCount() {
      var rows = list.children.length;
      var shown = 0;
      Array.prototype.forEach.call(list.children, function (li) {
        if (!li.hidden) shown++;
      });
      count.textContent = shown === rows ? rows + ' events' : shown + ' of ' + rows + ' events';
    }
    filter.addEventListener('input', function () {
      var q = query();
      Array.prototype.forEach.call(list.children, function (li) {
        li.hidden = q !== '' && li.dataset.search.indexOf(q) === -1;
      });
      showCount();
    });

    function kindClass(kind) {
      return 'kind-' + String(kind || 'other').toLowerCase().replace(/^event_kind_/, '')
        .replace(/[^a-z0-9]+/g, '-');
    }
    function timeText(t) {
      if (typeof t === 'number') return formatUtc(new Date(t * 1000));
      var d = new Date(t);
      return isNaN(d.getTime()) ? String(t || '') : formatUtc(d);
    }
    function span(className, text) {
      var el = document.createElement('span');
      el.className = className;
      el.textContent = text;
      return el;
    }
    function add(ev) {
      var li = document.createElement('li');
      li.className = 'event ' + kindClass(ev.kind);
      var time = document.createElement('time');
      time.textContent = timeText(ev.time);
      li.appendChild(time);
      li.appendChild(span('name', String(ev.name || '')));
      li.appendChild(span('text', String(ev.text || '')));
      li.dataset.search = (String(ev.name || '') + ' ' + String(ev.text || '')).toLowerCase();
      var q = query();
      li.hidden = q !== '' && li.dataset.search.indexOf(q) === -1;
      list.insertBefore(li, list.firstChild);
      while (list.children.length > max) list.removeChild(list.lastChild);
    }
    function setState(text, className) {
      state.textContent = text;
      state.className = 'stream-state ' + className;
    }

    // EventSource reconnects by itself and sends Last-Event-ID; the box resumes from there.
    var source = new EventSource(list.dataset.stream);
    setState('Connecting…', 'reconnecting');
    source.addEventListener('open', function () {
      setState('Live.', 'live');
    });
    source.addEventListener('message', function (message) {
      try {
        add(JSON.parse(message.data));
      } catch (e) {
        return;  // not an event: nothing to show
      }
      showCount();
    });
    source.addEventListener('error', function () {
      if (source.readyState === EventSource.CLOSED) {
        setState('Disconnected: reload the page.', 'closed');
      } else {
        setState('Reconnecting…', 'reconnecting');
      }
    });
    showCount();
  }

  function start() {
    confirmForms();
    countdowns();
    eventsPage();
  }
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
)js";

constexpr std::string_view kFavicon = R"svg(<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><path d="M16 2 4 6v9c0 7.5 5.1 13.2 12 15 6.9-1.8 12-7.5 12-15V6z" fill="#0b5cad"/><path d="M10 14h12M10 19h12" stroke="#fff" stroke-width="3" stroke-linecap="round"/></svg>
)svg";

struct NamedAsset {
  std::string_view path;
  Asset asset;
};

// Matched whole and exactly: "/static/../x", "/static/%2e%2e/", "/static/console.css/" and
// the folder itself name nothing here.
constexpr std::array<NamedAsset, 3> kAssets = {{
    {"/static/console.css", {"text/css; charset=utf-8", kCss}},
    {"/static/console.js", {"text/javascript; charset=utf-8", kJs}},
    {"/static/favicon.svg", {"image/svg+xml", kFavicon}},
}};

}  // namespace

const Asset* findAsset(std::string_view path) {
  for (const NamedAsset& named : kAssets) {
    if (named.path == path) return &named.asset;
  }
  return nullptr;
}

}  // namespace muzzle::web
