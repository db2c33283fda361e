/* Live real-time adherence monitor (docs/MONITOR.md).
 *
 * Plain browser JavaScript, no framework and no build step. The page keeps one
 * store (tenant, agents' live statuses, today's summaries, alerts) that the
 * snapshot replaces and the server-sent events update; everything on screen is
 * derived from it:
 *
 *   events ──► store (O(1) per event) ──► flags ──► one render per animation frame
 *                                                    (visible tiles only)
 *   1 s tick ──► re-filter/re-sort + counters + team table (at most once a second)
 *
 * The agent grid is virtualised: a spacer gives the scroll container its full
 * height and only the tiles in view (plus an overscan) exist in the DOM, recycled
 * as the view scrolls. Server strings are only ever written with textContent.
 */
(function () {
  "use strict";

  // ------------------------------------------------------------------ constants
  const API = {
    snapshot: "/monitor/v1/snapshot",
    events: "/monitor/v1/events",
    signin: "/monitor/v1/signin",
    signout: "/monitor/v1/signout",
    authorize: "/api/rest/authorize",
    timeline: (id, date) =>
      `/monitor/v1/agents/${encodeURIComponent(id)}/timeline?date=${encodeURIComponent(date)}`,
  };
  const CLASS_LABEL = {
    alert: "Alert", out: "Out", in: "In", neutral: "Neutral",
    unscheduled: "Unscheduled", loggedout: "Logged out",
  };
  const CLASS_ICON = { alert: "!", out: "×", in: "✓", neutral: "~", unscheduled: "?", loggedout: "–" };
  // "Worst first": alerts, then out, then the rest in this order.
  const CLASS_RANK = { alert: 0, out: 1, unscheduled: 2, neutral: 3, in: 4, loggedout: 5 };
  const STATE_LABEL = {
    READY: "Ready", TALKING: "Talking", HOLD: "Hold", WORK_READY: "Wrap-up (ready)",
    WORK_NOT_READY: "Wrap-up", NOT_READY: "Not ready", LOGOUT: "Logged out",
    LOGGED_OUT: "Logged out", BUSY_OTHER: "Busy (other)", RESERVED: "Reserved", UNKNOWN: "Unknown",
  };
  const STATE_ORDER = ["READY", "TALKING", "HOLD", "BUSY_OTHER", "RESERVED", "WORK_READY",
    "WORK_NOT_READY", "NOT_READY", "UNKNOWN", "LOGOUT", "LOGGED_OUT"];
  const NO_TEAM = "\u0000none"; // filter value of agents without a team
  const HOUR = 3600000;
  const TILE = { minWidth: 264, height: 122, gap: 10 }; // tiles layout (px)
  const ROW_HEIGHT = 40; // rows layout (px)
  const OVERSCAN_ROWS = 2;
  const ALERTS_SHOWN = 200; // newest alerts rendered in the side panel
  const ALERTS_KEPT_MS = 24 * HOUR;
  const DATA_FRAME_MS = 200; // at most ~5 renders a second for data alone
  const STALE_MS = 45000; // no event (heartbeats come every 15 s) for this long: reconnect
  const TIMELINE_REFRESH_MS = 15000;

  // ------------------------------------------------------------------ small helpers
  const $ = (id) => document.getElementById(id);
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  /** Write textContent only when it changed (cache on the element). */
  function setText(e, text) {
    if (e._t === text) return;
    e._t = text;
    const first = e.firstChild;
    // Changing a text node's data is cheaper than replacing it (no node added to layout).
    if (first && first === e.lastChild && first.nodeType === 3 && text !== "") first.data = text;
    else e.textContent = text;
  }
  function setAttr(e, name, value) {
    if (e.getAttribute(name) !== value) e.setAttribute(name, value);
  }
  const pad2 = (n) => (n < 10 ? "0" : "") + n;
  /** A duration as h:mm:ss, or m:ss under an hour. */
  function fmtDuration(ms) {
    if (ms == null || !isFinite(ms)) return "";
    let s = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(s / 3600);
    s -= h * 3600;
    const m = Math.floor(s / 60);
    s -= m * 60;
    return h > 0 ? `${h}:${pad2(m)}:${pad2(s)}` : `${m}:${pad2(s)}`;
  }
  const fmtPct = (v) => (v == null || !isFinite(v) ? "–" : `${Number(v).toFixed(1)}%`);
  const ratioPct = (a, b) => (b > 0 ? (100 * a) / b : null);
  const stateLabel = (s) => (s == null ? "–" : STATE_LABEL[s] || prettify(s));
  /** "in_service" / "LUNCH" -> "In service" / "Lunch". */
  function prettify(s) {
    if (s == null || s === "") return "";
    const t = String(s).replace(/_/g, " ").toLowerCase();
    return t.charAt(0).toUpperCase() + t.slice(1);
  }
  const hasReason = (r) => r != null && r !== "";
  function stateText(state, reason) {
    return hasReason(reason) ? `${stateLabel(state)} · ${reason}` : stateLabel(state);
  }
  async function readJson(resp) {
    try { return await resp.json(); } catch (_) { return null; }
  }
  /** The server's error message ({"error": {"message": ...}}), else the HTTP status. */
  function errorMessage(body, resp) {
    const m = body && body.error && body.error.message;
    return m ? String(m) : `${resp.status} ${resp.statusText || "error"}`.trim();
  }

  // ------------------------------------------------------------------ store
  const store = {
    tenant: null, // {id, timeZone, alertAfterSeconds, alertThresholds}
    date: null, // the tenant's local date the summaries are of (snapshot.date)
    offset: 0, // server clock - browser clock (ms), from snapshot.now / heartbeat.now
    agents: new Map(), // agentId -> status
    summaries: new Map(), // agentId -> summary of `date`
    alerts: new Map(), // alertId -> latest record
    openAlerts: new Map(), // agentId -> Set of alertIds whose latest record is ALERT_STARTED
  };
  const now = () => Date.now() + store.offset;

  // Formatters in the tenant's zone (rebuilt when the zone changes).
  const fmt = { zone: undefined, time: null, hm: null, clockDate: null, weekday: null, isoDate: null };
  function setZone(zone) {
    if (fmt.time && fmt.zone === zone) return;
    let tz = zone || undefined;
    try { new Intl.DateTimeFormat("en-US", { timeZone: tz }); } catch (_) { tz = undefined; }
    fmt.zone = zone;
    fmt.time = new Intl.DateTimeFormat(undefined, { timeZone: tz, hour: "2-digit", minute: "2-digit", second: "2-digit" });
    fmt.hm = new Intl.DateTimeFormat(undefined, { timeZone: tz, hour: "2-digit", minute: "2-digit" });
    fmt.clockDate = new Intl.DateTimeFormat(undefined, { timeZone: tz, weekday: "short", day: "numeric", month: "short", timeZoneName: "short" });
    fmt.weekday = new Intl.DateTimeFormat(undefined, { timeZone: tz, weekday: "short" });
    fmt.isoDate = new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" });
  }
  setZone(undefined);
  /** A time of day in the tenant's zone, with the weekday when it is not of the day shown. */
  function fmtWhen(ms) {
    const t = fmt.time.format(ms);
    return store.date && localDate(ms) !== store.date ? `${fmt.weekday.format(ms)} ${t}` : t;
  }
  /** YYYY-MM-DD of an instant in the tenant's zone. */
  function localDate(ms) {
    const p = {};
    for (const x of fmt.isoDate.formatToParts(ms)) p[x.type] = x.value;
    return `${p.year}-${p.month}-${p.day}`;
  }

  function thresholdMs(category) {
    const t = store.tenant || {};
    const by = t.alertThresholds || {};
    const s = by[category] != null ? by[category] : t.alertAfterSeconds != null ? t.alertAfterSeconds : 60;
    return 1000 * s;
  }
  /** The adherence class of a status at `t` (see the grid's colours). */
  function classOf(a, t) {
    if (a.adherence === "OUT") {
      const open = store.openAlerts.get(a.agentId);
      if (open && open.size) return "alert";
      if (a.outOfAdherenceSince != null && t - a.outOfAdherenceSince >= thresholdMs(a.activityCategory)) return "alert";
      return "out";
    }
    if (a.loggedIn === false) return "loggedout";
    if (a.adherence === "IN") return "in";
    if (a.adherence === "UNSCHEDULED") return "unscheduled";
    return "neutral";
  }

  function putAlert(al) {
    if (!al || al.alertId == null) return;
    const id = String(al.alertId);
    const old = store.alerts.get(id);
    if (old && old.type === "ALERT_ENDED" && al.type === "ALERT_STARTED") return; // stale start
    store.alerts.set(id, al);
    const agent = String(al.agentId);
    let open = store.openAlerts.get(agent);
    if (al.type === "ALERT_STARTED") {
      if (!open) store.openAlerts.set(agent, (open = new Set()));
      open.add(id);
    } else if (open) {
      open.delete(id);
      if (!open.size) store.openAlerts.delete(agent);
    }
    ui.dirtyAgents.add(agent);
  }

  function applySnapshot(s) {
    if (!s || typeof s !== "object") return;
    store.tenant = s.tenant || store.tenant;
    store.date = s.date || null;
    if (typeof s.now === "number") store.offset = s.now - Date.now();
    setZone(store.tenant && store.tenant.timeZone);
    store.agents = new Map();
    for (const a of s.agents || []) {
      a.agentId = String(a.agentId);
      store.agents.set(a.agentId, a);
    }
    store.summaries = new Map();
    for (const x of s.summaries || []) if (x.date === store.date) store.summaries.set(String(x.agentId), x);
    store.alerts = new Map();
    store.openAlerts = new Map();
    for (const al of s.alerts || []) putAlert(al);
    setText($("tenant"), store.tenant ? String(store.tenant.name || store.tenant.id || "") : "");
    ui.fullRefill = true;
    ui.alertsDirty = ui.teamsDirty = ui.filtersDirty = true;
    requestResort();
    if (drawer.agentId) scheduleTimeline(0, true);
  }

  function onStatus(a) {
    if (!a || a.agentId == null) return;
    a.agentId = String(a.agentId);
    const old = store.agents.get(a.agentId); // the stream is in order: the latest wins
    store.agents.set(a.agentId, a);
    ui.dirtyAgents.add(a.agentId);
    ui.resortWanted = true;
    if (!old || old.team !== a.team || old.state !== a.state) ui.filtersDirty = true;
    ui.teamsDirty = true;
    if (drawer.agentId === a.agentId) scheduleTimeline(1000);
    scheduleDataFrame();
  }
  function onSummary(x) {
    if (!x || x.agentId == null || x.date !== store.date) return; // another day's: not shown
    const id = String(x.agentId);
    if (x.removed) store.summaries.delete(id); // the day no longer exists (a tombstone)
    else store.summaries.set(id, x);
    ui.dirtyAgents.add(id);
    ui.teamsDirty = true;
    scheduleDataFrame();
  }
  function onAlert(al) {
    putAlert(al);
    ui.alertsDirty = true;
    ui.resortWanted = true;
    scheduleDataFrame();
  }

  // ------------------------------------------------------------------ view state
  const ui = {
    list: [], // agentIds after filters, in display order
    index: new Map(), // agentId -> position in list
    filters: { team: "", state: "", cls: "", q: "" },
    sort: "worst",
    mode: "tiles",
    cols: 1, rowH: TILE.height + TILE.gap, tileW: TILE.minWidth,
    nodes: new Map(), // agentId -> tile element currently in the grid
    pool: [], // detached tiles for reuse
    dirtyAgents: new Set(),
    fullRefill: true, // refill every visible tile (tick, snapshot, layout)
    resortWanted: true, resortNow: false, lastResort: -1e9,
    alertsDirty: true, teamsDirty: true, filtersDirty: true, lastTeams: -1e9,
    alertNodes: new Map(), // alertId -> rendered <li>
    frame: 0, frameTimer: 0, lastFrame: -1e9, tickDue: false,
    scrollTop: 0, viewW: 0, viewH: 0, // geometry of the grid, kept from events (no forced layout)
    stats: { renders: 0, lastRenderMs: 0, maxRenderMs: 0 },
  };

  /**
   * Ask for a render at the next animation frame. Renders that only bring data
   * (events, the clock) are spaced by at least DATA_FRAME_MS, so that a burst of
   * events costs a few renders a second; what the user does (scroll, filters)
   * renders at the next frame.
   */
  function scheduleFrame() {
    if (ui.frame) return;
    clearTimeout(ui.frameTimer);
    ui.frameTimer = 0;
    ui.frame = requestAnimationFrame(frame);
  }
  function scheduleDataFrame() {
    if (ui.frame || ui.frameTimer) return;
    const wait = ui.lastFrame + DATA_FRAME_MS - performance.now();
    if (wait <= 0) scheduleFrame();
    else ui.frameTimer = setTimeout(() => { ui.frameTimer = 0; scheduleFrame(); }, wait);
  }
  /** Re-sort at the next frame (filters changed, snapshot). */
  function requestResort() {
    ui.resortNow = true;
    scheduleFrame();
  }

  // One render: everything the flags ask for, timed for stats().
  function frame() {
    ui.frame = 0;
    const t0 = performance.now();
    ui.lastFrame = t0;
    const t = now();
    if (ui.tickDue) renderTick(t);
    // Throttles run on the monotonic clock (the server clock offset may jump).
    if (ui.resortNow || (ui.resortWanted && t0 - ui.lastResort >= 1000)) resort(t);
    renderGrid(t);
    if (ui.alertsDirty) renderAlerts(t);
    if (ui.teamsDirty && t0 - ui.lastTeams >= 1000) renderTeams();
    const ms = performance.now() - t0;
    ui.stats.renders++;
    ui.stats.lastRenderMs = ms;
    if (ms > ui.stats.maxRenderMs) ui.stats.maxRenderMs = ms;
  }

  // ------------------------------------------------------------------ filter + sort
  function nameOf(a) {
    return a.agentName ? String(a.agentName) : String(a.agentId);
  }
  function resort(t) {
    ui.resortNow = ui.resortWanted = false;
    ui.lastResort = performance.now();
    if (ui.filtersDirty) refreshFilterOptions();
    const f = ui.filters;
    const q = f.q.trim().toLowerCase();
    const counts = { all: 0, alert: 0, out: 0, in: 0, neutral: 0, unscheduled: 0, loggedout: 0 };
    const rows = [];
    for (const a of store.agents.values()) {
      const c = classOf(a, t);
      // Counters reflect team, state and search, not the class filter itself.
      if (f.team && (a.team == null ? NO_TEAM : String(a.team)) !== f.team) continue;
      if (f.state && a.state !== f.state) continue;
      if (q && !nameOf(a).toLowerCase().includes(q) && !a.agentId.toLowerCase().includes(q)) continue;
      counts.all++;
      counts[c]++;
      if (f.cls && c !== f.cls) continue;
      rows.push({ a, c, name: nameOf(a).toLowerCase() });
    }
    const byName = (x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : x.a.agentId < y.a.agentId ? -1 : x.a.agentId > y.a.agentId ? 1 : 0);
    // Timestamps (not durations) so that the order does not drift with the clock.
    const older = (p, q2) => (p == null ? (q2 == null ? 0 : 1) : q2 == null ? -1 : p - q2);
    const cmp = {
      worst: (x, y) => (CLASS_RANK[x.c] - CLASS_RANK[y.c]) ||
        (x.c === "alert" || x.c === "out" ? older(x.a.outOfAdherenceSince, y.a.outOfAdherenceSince) : 0) ||
        older(x.a.since, y.a.since) || byName(x, y),
      name: byName,
      team: (x, y) => {
        const p = x.a.team == null ? "\uffff" : String(x.a.team).toLowerCase();
        const r = y.a.team == null ? "\uffff" : String(y.a.team).toLowerCase();
        return p < r ? -1 : p > r ? 1 : byName(x, y);
      },
      time: (x, y) => older(x.a.since, y.a.since) || byName(x, y),
    }[ui.sort] || byName;
    rows.sort(cmp);
    ui.list = rows.map((r) => r.a.agentId);
    ui.index = new Map();
    ui.list.forEach((id, i) => ui.index.set(id, i));
    for (const k of Object.keys(counts)) {
      const n = document.querySelector(`.counter-n[data-n="${k}"]`);
      if (n) setText(n, counts[k].toLocaleString());
    }
    setText($("shown"), `${ui.list.length.toLocaleString()} of ${store.agents.size.toLocaleString()} agents`);
    $("grid-empty").hidden = ui.list.length > 0 || store.agents.size === 0;
    ui.fullRefill = true;
    layout();
  }

  /** Rebuild the team and state <select>s when the sets of values changed. */
  function refreshFilterOptions() {
    ui.filtersDirty = false;
    const teams = new Set();
    const states = new Set();
    for (const a of store.agents.values()) {
      teams.add(a.team == null ? NO_TEAM : String(a.team));
      if (a.state != null) states.add(String(a.state));
    }
    const teamList = [...teams].sort((x, y) => (x === NO_TEAM ? 1 : y === NO_TEAM ? -1 : x.localeCompare(y)));
    fillSelect($("filter-team"), "All teams", teamList.map((v) => [v, v === NO_TEAM ? "No team" : v]));
    const rank = (s) => { const i = STATE_ORDER.indexOf(s); return i < 0 ? 99 : i; };
    const stateList = [...states].sort((x, y) => rank(x) - rank(y) || x.localeCompare(y));
    fillSelect($("filter-state"), "All states", stateList.map((v) => [v, stateLabel(v)]));
  }
  function fillSelect(select, allLabel, options) {
    const key = JSON.stringify(options);
    if (select._key === key) return;
    select._key = key;
    const current = select.value;
    const opts = [new Option(allLabel, "")];
    for (const [v, label] of options) opts.push(new Option(label, v));
    // Keep a chosen value that has (for now) no agent, so the filter is not lost.
    if (current && !options.some(([v]) => v === current)) opts.push(new Option(current === NO_TEAM ? "No team" : current, current));
    select.replaceChildren(...opts);
    select.value = current;
  }

  // ------------------------------------------------------------------ grid (virtualised)
  const gridScroll = $("grid-scroll");
  const grid = $("grid");
  const spacer = $("grid-spacer");

  /** Columns, tile size and the spacer's height from the container's width. */
  function layout() {
    const width = ui.viewW;
    if (ui.mode === "tiles") {
      ui.cols = Math.max(1, Math.floor((width + TILE.gap) / (TILE.minWidth + TILE.gap)));
      ui.tileW = Math.floor((width - TILE.gap * (ui.cols - 1)) / ui.cols);
      ui.rowH = TILE.height + TILE.gap;
    } else {
      ui.cols = 1;
      ui.tileW = width;
      ui.rowH = ROW_HEIGHT;
    }
    const rows = Math.ceil(ui.list.length / ui.cols);
    spacer.style.height = `${rows * ui.rowH}px`;
    ui.fullRefill = true;
  }

  function makeTile() {
    const n = el("div", "tile");
    n.tabIndex = 0;
    n.setAttribute("role", "button");
    const r = (n._r = {});
    const part = (key, cls, parent) => ((r[key] = el("span", cls)), (parent || n).appendChild(r[key]));
    const head = el("span", "t-head"); // name and badge (a row of its own in tiles)
    n.appendChild(head);
    part("name", "t-name", head);
    const meta = el("span", "t-meta");
    n.appendChild(meta);
    part("id", "t-id", meta);
    part("team", "t-team", meta);
    const st = el("span", "t-state");
    n.appendChild(st);
    r.stDot = el("i", "state-dot");
    st.appendChild(r.stDot);
    r.st = el("span", "t-state-name");
    st.appendChild(r.st);
    r.reason = el("span", "t-reason");
    st.appendChild(r.reason);
    part("act", "t-act");
    part("chats", "t-chats");
    const timer = (key, cls, label) => {
      const box = el("span", cls);
      box.appendChild(el("span", "k", label));
      r[key] = el("span", "v");
      box.appendChild(r[key]);
      n.appendChild(box);
      return box;
    };
    timer("tis", "t-tis", "In state");
    r.toaBox = timer("toa", "t-toa", "out");
    r.day = el("span", "t-day");
    n.appendChild(r.day);
    const badge = el("span", "t-badge badge");
    r.icon = el("span", "ico");
    r.icon.setAttribute("aria-hidden", "true");
    r.cls = el("span", "badge-text");
    badge.append(r.icon, r.cls);
    head.appendChild(badge);
    return n;
  }

  /** Write one agent's figures into a tile (only the texts that changed). */
  function fillTile(n, a, t) {
    const r = n._r;
    const c = classOf(a, t);
    setAttr(n, "data-adherence", c);
    setText(r.name, nameOf(a));
    setText(r.id, a.agentId);
    setText(r.team, a.team == null ? "No team" : String(a.team));
    setAttr(r.stDot, "data-state", String(a.state));
    setText(r.st, stateLabel(a.state));
    setText(r.reason, hasReason(a.reasonCode) ? String(a.reasonCode) : "");
    setText(r.act, a.activity ? prettify(a.activity) : "No activity");
    setText(r.chats, a.chatCapacity != null || a.chatsInProgress != null
      ? `Chats ${a.chatsInProgress != null ? a.chatsInProgress : "–"}/${a.chatCapacity != null ? a.chatCapacity : "–"}` : "");
    setText(r.tis, a.since != null ? fmtDuration(t - a.since) : "–");
    const out = a.adherence === "OUT" && a.outOfAdherenceSince != null;
    setText(r.toa, out ? fmtDuration(t - a.outOfAdherenceSince) : "");
    setAttr(r.toaBox, "data-on", out ? "1" : "0");
    const s = store.summaries.get(a.agentId);
    setText(r.day, s ? `Adh ${fmtPct(s.scheduleAdherence)} · Conf ${fmtPct(s.scheduleConformity)}` : "");
    setText(r.icon, CLASS_ICON[c]);
    setText(r.cls, CLASS_LABEL[c]);
  }

  function renderGrid(t) {
    const list = ui.list;
    const top = ui.scrollTop;
    const viewH = ui.viewH;
    const firstRow = Math.max(0, Math.floor(top / ui.rowH) - OVERSCAN_ROWS);
    const lastRow = Math.ceil((top + viewH) / ui.rowH) + OVERSCAN_ROWS;
    const i0 = firstRow * ui.cols;
    const i1 = Math.min(list.length, lastRow * ui.cols);
    const wanted = new Set();
    for (let i = i0; i < i1; i++) wanted.add(list[i]);
    // Free the tiles of agents that left the view (their node is reused below).
    const free = [];
    for (const [id, n] of ui.nodes) {
      if (wanted.has(id)) continue;
      ui.nodes.delete(id);
      if (n === document.activeElement) n.blur(); // the node is about to show another agent
      free.push(n);
    }
    const full = ui.fullRefill;
    for (let i = i0; i < i1; i++) {
      const id = list[i];
      const a = store.agents.get(id);
      let n = ui.nodes.get(id);
      let fresh = false;
      if (!n) {
        n = free.pop() || ui.pool.pop() || makeTile();
        if (!n.parentNode) grid.appendChild(n);
        ui.nodes.set(id, n);
        n.setAttribute("data-agent-id", id);
        fresh = true;
      }
      const row = Math.floor(i / ui.cols);
      const col = i - row * ui.cols;
      const pos = `translate(${col * (ui.tileW + TILE.gap)}px,${row * ui.rowH}px)`;
      if (n._pos !== pos) { n._pos = pos; n.style.transform = pos; }
      const w = `${ui.tileW}px`;
      if (n._w !== w) { n._w = w; n.style.width = w; }
      if (a && (fresh || full || ui.dirtyAgents.has(id))) fillTile(n, a, t);
    }
    for (const n of free) {
      n.remove();
      n.removeAttribute("data-agent-id");
      if (ui.pool.length < 200) ui.pool.push(n);
    }
    ui.dirtyAgents.clear();
    ui.fullRefill = false;
  }

  // The grid's geometry is read here, where layout is fresh, never in a render.
  gridScroll.addEventListener("scroll", () => { ui.scrollTop = gridScroll.scrollTop; scheduleFrame(); }, { passive: true });
  new ResizeObserver(() => {
    ui.viewW = gridScroll.clientWidth;
    ui.viewH = gridScroll.clientHeight;
    layout();
    scheduleFrame();
  }).observe(gridScroll);
  function scrollGridTo(y) {
    gridScroll.scrollTop = y;
    ui.scrollTop = gridScroll.scrollTop;
  }

  grid.addEventListener("click", (e) => {
    const n = e.target.closest("[data-agent-id]");
    if (n) openDrawer(n.getAttribute("data-agent-id"));
  });
  grid.addEventListener("keydown", (e) => {
    const n = e.target.closest("[data-agent-id]");
    if (!n) return;
    const id = n.getAttribute("data-agent-id");
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      openDrawer(id);
      return;
    }
    const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: ui.cols, ArrowUp: -ui.cols }[e.key];
    if (!step) return;
    e.preventDefault();
    const i = (ui.index.get(id) || 0) + step;
    if (i >= 0 && i < ui.list.length) focusAgent(ui.list[i]);
  });
  /** Scroll an agent's tile into view, render it now and focus it. */
  function focusAgent(id) {
    const i = ui.index.get(id);
    if (i == null) return;
    const y = Math.floor(i / ui.cols) * ui.rowH;
    if (y < ui.scrollTop) scrollGridTo(y);
    else if (y + ui.rowH > ui.scrollTop + ui.viewH) scrollGridTo(y + ui.rowH - ui.viewH);
    renderGrid(now());
    const n = ui.nodes.get(id);
    if (n) n.focus({ preventScroll: true });
  }

  // ------------------------------------------------------------------ alerts panel
  const alertsEl = $("alerts");
  function agentLabel(id) {
    const a = store.agents.get(String(id));
    return a && a.agentName ? String(a.agentName) : String(id);
  }
  function makeAlertItem() {
    const li = el("li", "alert-item");
    li.tabIndex = 0;
    const r = (li._r = {});
    const top = el("div", "al-top");
    r.badge = el("span", "al-badge");
    r.agent = el("span", "al-agent");
    r.dur = el("span", "al-dur");
    top.append(r.badge, r.agent, r.dur);
    const bottom = el("div", "al-bottom");
    r.start = el("span", "al-start");
    r.act = el("span", "al-act");
    r.state = el("span", "al-state");
    bottom.append(r.start, r.act, r.state);
    li.append(top, bottom);
    return li;
  }
  function fillAlert(li, al, t) {
    const r = li._r;
    const open = al.type === "ALERT_STARTED";
    setAttr(li, "data-alert-id", String(al.alertId));
    setAttr(li, "data-alert-type", String(al.type));
    setAttr(li, "data-agent-id", String(al.agentId));
    setText(r.badge, open ? "Open" : "Ended");
    setText(r.agent, `${agentLabel(al.agentId)} (${al.agentId})`);
    const dur = open ? t - al.start : al.duration != null ? al.duration : al.end != null ? al.end - al.start : null;
    setText(r.dur, fmtDuration(dur));
    const whenKey = `${al.start}|${store.date}|${fmt.zone}`;
    if (li._when !== whenKey) { // formatting is the costly part: only when it changes
      li._when = whenKey;
      setText(r.start, al.start != null ? fmtWhen(al.start) : "");
    }
    setText(r.act, al.activity ? prettify(al.activity) : "No activity");
    setText(r.state, stateText(al.state, al.reasonCode));
  }
  function renderAlerts(t) {
    ui.alertsDirty = false;
    const openOnly = $("alerts-open-only").checked;
    let openCount = 0;
    const all = [];
    for (const al of store.alerts.values()) {
      const open = al.type === "ALERT_STARTED";
      if (open) openCount++;
      if (!openOnly || open) all.push(al);
    }
    all.sort((x, y) => (y.start || 0) - (x.start || 0) || (x.alertId < y.alertId ? -1 : 1));
    const shown = all.slice(0, ALERTS_SHOWN);
    const keep = new Map();
    const items = shown.map((al) => {
      const id = String(al.alertId);
      const li = ui.alertNodes.get(id) || makeAlertItem();
      keep.set(id, li);
      fillAlert(li, al, t);
      return li;
    });
    ui.alertNodes = keep;
    // Move only what moved (a new alert is one insertion at the top): re-inserting
    // the whole list would lay all of it out again.
    let cur = alertsEl.firstChild;
    for (const li of items) {
      if (cur === li) cur = cur.nextSibling;
      else alertsEl.insertBefore(li, cur);
    }
    while (cur) { // what is left was not wanted
      const next = cur.nextSibling;
      cur.remove();
      cur = next;
    }
    setText($("alerts-open"), `${openCount} open`);
    const more = $("alerts-more");
    more.hidden = all.length <= ALERTS_SHOWN;
    setText(more, `${ALERTS_SHOWN} newest of ${all.length} shown`);
    if (!items.length) alertsEl.replaceChildren(el("li", "alerts-empty", openOnly ? "No open alert." : "No alert in the last 24 hours."));
  }
  function tickAlerts(t) {
    for (const li of ui.alertNodes.values()) {
      const al = store.alerts.get(li.getAttribute("data-alert-id"));
      if (al && al.type === "ALERT_STARTED") setText(li._r.dur, fmtDuration(t - al.start));
    }
  }
  /** Forget alerts that ended more than a day ago (the snapshot keeps 24 hours). */
  function pruneAlerts(t) {
    let gone = false;
    for (const [id, al] of store.alerts) {
      if (al.type !== "ALERT_STARTED" && (al.end != null ? al.end : al.start) < t - ALERTS_KEPT_MS) {
        store.alerts.delete(id);
        gone = true;
      }
    }
    if (gone) ui.alertsDirty = true;
  }
  alertsEl.addEventListener("click", (e) => {
    const li = e.target.closest("[data-agent-id]");
    if (li) openDrawer(li.getAttribute("data-agent-id"));
  });
  alertsEl.addEventListener("keydown", (e) => {
    const li = e.target.closest("[data-agent-id]");
    if (li && e.key === "Enter") openDrawer(li.getAttribute("data-agent-id"));
  });
  $("alerts-open-only").addEventListener("change", () => { ui.alertsDirty = true; scheduleFrame(); });

  // ------------------------------------------------------------------ team table
  /** Sums of the summaries of `ids`: adherence = in / (in + notIn), conformance = actual / scheduled in service. */
  function dayFigures(ids) {
    let inS = 0, notIn = 0, act = 0, sched = 0, n = 0;
    for (const id of ids) {
      n++;
      const s = store.summaries.get(id);
      if (!s) continue;
      inS += s.inAdherenceSeconds || 0;
      notIn += s.notInAdherenceSeconds || 0;
      act += s.actualInServiceSeconds || 0;
      sched += s.scheduledInServiceSeconds || 0;
    }
    return { agents: n, adh: ratioPct(inS, inS + notIn), conf: ratioPct(act, sched) };
  }
  function pctCell(td, v) {
    td.replaceChildren();
    const bar = el("span", "bar");
    const fill = el("span", "bar-fill");
    fill.style.width = `${v == null ? 0 : Math.min(100, Math.max(0, v))}%`;
    bar.appendChild(fill);
    td.append(el("span", "pct", fmtPct(v)), bar);
  }
  function renderTeams() {
    ui.teamsDirty = false;
    ui.lastTeams = performance.now();
    const teams = new Map();
    for (const a of store.agents.values()) {
      const k = a.team == null ? NO_TEAM : String(a.team);
      if (!teams.has(k)) teams.set(k, []);
      teams.get(k).push(a.agentId);
    }
    const keys = [...teams.keys()].sort((x, y) => (x === NO_TEAM ? 1 : y === NO_TEAM ? -1 : x.localeCompare(y)));
    const rows = keys.map((k) => {
      const f = dayFigures(teams.get(k));
      const tr = el("tr");
      tr.setAttribute("data-team", k);
      if (ui.filters.team === k) tr.className = "selected";
      const th = el("th", null, k === NO_TEAM ? "No team" : k);
      th.scope = "row";
      const tdA = el("td", "num", f.agents.toLocaleString());
      const tdH = el("td", "num");
      const tdC = el("td", "num");
      pctCell(tdH, f.adh);
      pctCell(tdC, f.conf);
      tr.append(th, tdA, tdH, tdC);
      return tr;
    });
    $("teams").replaceChildren(...rows);
    const total = dayFigures(store.agents.keys());
    const foot = $("teams-total");
    setText(foot.querySelector('[data-f="agents"]'), total.agents.toLocaleString());
    pctCell(foot.querySelector('[data-f="adh"]'), total.adh);
    pctCell(foot.querySelector('[data-f="conf"]'), total.conf);
    setText($("tenant-adherence"), fmtPct(total.adh));
    setText($("tenant-conformance"), fmtPct(total.conf));
  }
  $("teams").addEventListener("click", (e) => {
    const tr = e.target.closest("tr[data-team]");
    if (!tr) return;
    const team = tr.getAttribute("data-team");
    setFilter("team", ui.filters.team === team ? "" : team);
  });

  // ------------------------------------------------------------------ filters / toolbar
  function setFilter(key, value) {
    ui.filters[key] = value;
    if (key === "team") $("filter-team").value = value;
    if (key === "state") $("filter-state").value = value;
    if (key === "cls") {
      $("filter-adherence").value = value;
      for (const b of document.querySelectorAll(".counter")) {
        b.setAttribute("aria-pressed", String((b.dataset.cls === "all" ? "" : b.dataset.cls) === value));
      }
    }
    scrollGridTo(0);
    ui.teamsDirty = true;
    ui.lastTeams = -1e9;
    requestResort();
  }
  $("filter-team").addEventListener("change", (e) => setFilter("team", e.target.value));
  $("filter-state").addEventListener("change", (e) => setFilter("state", e.target.value));
  $("filter-adherence").addEventListener("change", (e) => setFilter("cls", e.target.value));
  $("search").addEventListener("input", (e) => setFilter("q", e.target.value));
  $("sort").addEventListener("change", (e) => { ui.sort = e.target.value; scrollGridTo(0); requestResort(); });
  $("counters").addEventListener("click", (e) => {
    const b = e.target.closest(".counter");
    if (!b) return;
    const c = b.dataset.cls === "all" ? "" : b.dataset.cls;
    setFilter("cls", ui.filters.cls === c ? "" : c);
  });
  for (const b of document.querySelectorAll("[data-view]")) {
    b.addEventListener("click", () => {
      ui.mode = b.dataset.view;
      document.body.dataset.view = ui.mode;
      for (const x of document.querySelectorAll("[data-view]")) x.setAttribute("aria-pressed", String(x === b));
      layout();
      scheduleFrame();
    });
  }
  document.body.dataset.view = ui.mode;

  // ------------------------------------------------------------------ timeline drawer
  const drawer = { agentId: null, data: null, timer: 0, due: 0, seq: 0, returnFocus: null };
  const timelineEl = $("timeline");

  /**
   * Hour ticks of a local day in a time zone: one every hour of absolute time from
   * dayStart, labelled with the local hour, so that a day when clocks go forward
   * reads 0,1,3,4… (23 ticks) and one when they go back 0,1,1,2… (25 ticks).
   */
  function hourTicks(dayStart, dayEnd, timeZone) {
    let f;
    try {
      f = new Intl.DateTimeFormat("en-GB", { hour: "numeric", hourCycle: "h23", timeZone: timeZone || undefined });
    } catch (_) {
      f = new Intl.DateTimeFormat("en-GB", { hour: "numeric", hourCycle: "h23" });
    }
    const out = [];
    for (let at = dayStart; at < dayEnd; at += HOUR) {
      const h = f.formatToParts(at).find((p) => p.type === "hour");
      out.push({ at, label: String(Number(h ? h.value : 0)) });
    }
    return out;
  }

  function openDrawer(id) {
    if (!id) return;
    if (drawer.agentId !== id) {
      drawer.data = null;
      timelineEl.replaceChildren();
      setText($("drawer-status"), "Loading…");
    }
    drawer.returnFocus = document.activeElement;
    drawer.agentId = String(id);
    $("drawer").hidden = false;
    document.body.classList.add("drawer-open");
    renderDrawerHead(now());
    scheduleTimeline(0, true);
    $("drawer-close").focus({ preventScroll: true });
  }
  function closeDrawer() {
    drawer.agentId = null;
    drawer.data = null;
    drawer.seq++;
    clearTimeout(drawer.timer);
    drawer.timer = 0;
    $("drawer").hidden = true;
    document.body.classList.remove("drawer-open");
    const back = drawer.returnFocus;
    if (back && back.isConnected) back.focus({ preventScroll: true });
  }
  /**
   * (Re)load the open timeline in `delay` ms, unless a load is already due sooner
   * (so a burst of the agent's status events makes one load, and never postpones it).
   */
  function scheduleTimeline(delay, force) {
    if (!drawer.agentId) return;
    const due = Date.now() + delay;
    if (!force && drawer.timer && drawer.due <= due) return;
    clearTimeout(drawer.timer);
    drawer.due = due;
    drawer.timer = setTimeout(() => { drawer.timer = 0; loadTimeline(); }, delay);
  }
  async function loadTimeline() {
    const id = drawer.agentId;
    if (!id || !store.date) return;
    const seq = ++drawer.seq;
    try {
      const resp = await fetch(API.timeline(id, store.date), { credentials: "same-origin", cache: "no-store" });
      const body = await readJson(resp);
      if (seq !== drawer.seq || id !== drawer.agentId) return; // superseded or closed
      if (resp.status === 401) { showSignin("Your session ended. Sign in again."); return; }
      if (!resp.ok || !body) {
        setText($("drawer-status"), `Timeline unavailable: ${errorMessage(body, resp)}`);
      } else {
        drawer.data = body;
        renderTimeline(body);
        setText($("drawer-status"), body.asOf != null ? `As of ${fmt.time.format(body.asOf)}` : "");
      }
    } catch (err) {
      if (seq === drawer.seq) setText($("drawer-status"), "Timeline unavailable: the server cannot be reached.");
    }
    if (seq === drawer.seq && drawer.agentId === id) scheduleTimeline(TIMELINE_REFRESH_MS);
  }

  function renderDrawerHead(t) {
    const id = drawer.agentId;
    const a = store.agents.get(id);
    setText($("drawer-title"), a ? nameOf(a) : id);
    const badge = $("drawer-badge");
    if (!a) {
      setText($("drawer-sub"), `${id} · not in the current view of the tenant`);
      badge.hidden = true;
      $("drawer-figures").replaceChildren();
      return;
    }
    const c = classOf(a, t);
    badge.hidden = false;
    setAttr(badge, "data-adherence", c);
    setText(badge, `${CLASS_ICON[c]} ${CLASS_LABEL[c]}`);
    setText($("drawer-sub"), `${a.agentId} · ${a.team == null ? "No team" : a.team} · ${stateText(a.state, a.reasonCode)}` +
      `${a.activity ? ` · scheduled ${prettify(a.activity)}` : ""}`);
    const s = store.summaries.get(id);
    const figs = [
      ["In state", a.since != null ? fmtDuration(t - a.since) : "–"],
      ["Out of adherence for", a.adherence === "OUT" && a.outOfAdherenceSince != null ? fmtDuration(t - a.outOfAdherenceSince) : "–"],
      ["Adherence today", fmtPct(s && s.scheduleAdherence)],
      ["Conformance today", fmtPct(s && s.scheduleConformity)],
      ["In adherence", s ? fmtDuration(1000 * (s.inAdherenceSeconds || 0)) : "–"],
      ["Not in adherence", s ? fmtDuration(1000 * (s.notInAdherenceSeconds || 0)) : "–"],
      ["Scheduled in service", s ? fmtDuration(1000 * (s.scheduledInServiceSeconds || 0)) : "–"],
      ["Worked in service", s ? fmtDuration(1000 * (s.actualInServiceSeconds || 0)) : "–"],
    ];
    const box = $("drawer-figures");
    if (box.children.length !== figs.length) {
      box.replaceChildren(...figs.map(() => {
        const d = el("div", "dfig");
        d.append(el("span", "dfig-k"), el("span", "dfig-v"));
        return d;
      }));
    }
    figs.forEach(([k, v], i) => {
      setText(box.children[i].firstChild, k);
      setText(box.children[i].lastChild, v);
    });
  }

  function renderTimeline(d) {
    const s = Number(d.dayStart);
    const e = Number(d.dayEnd);
    const span = e - s;
    if (!(span > 0)) return;
    const zone = d.timeZone || (store.tenant && store.tenant.timeZone);
    const pct = (x) => `${((100 * (x - s)) / span).toFixed(4)}%`;
    const wpct = (x, y) => `${((100 * (y - x)) / span).toFixed(4)}%`;
    const hm = (x) => fmt.hm.format(x);
    timelineEl.setAttribute("data-agent-id", String(d.agentId));
    timelineEl.setAttribute("data-day-start", String(s));
    timelineEl.setAttribute("data-day-end", String(e));
    const parts = [];
    for (const tick of hourTicks(s, e, zone)) {
      const h = el("div", "tl-hour");
      h.setAttribute("data-kind", "hour");
      h.setAttribute("data-at", String(tick.at));
      h.style.left = pct(tick.at);
      h.appendChild(el("span", "tl-hour-label", tick.label));
      parts.push(h);
    }
    const lane = (cls) => { const l = el("div", `tl-lane ${cls}`); parts.push(l); return l; };
    const block = (parent, kind, x, y, label, cls, title) => {
      const a = Math.max(Number(x), s);
      const b = Math.min(y == null ? Number(d.asOf != null ? d.asOf : e) : Number(y), e);
      if (!(b > a)) return;
      const blk = el("div", `tl-block ${cls}`);
      blk.setAttribute("data-kind", kind);
      blk.setAttribute("data-start", String(a));
      blk.setAttribute("data-end", String(b));
      if (label != null) blk.setAttribute("data-label", String(label));
      blk.style.left = pct(a);
      blk.style.width = wpct(a, b);
      blk.title = `${title} · ${hm(a)}–${hm(b)} (${fmtDuration(b - a)})`;
      if (kind !== "out") blk.appendChild(el("span", "tl-text", title));
      parent.appendChild(blk);
    };
    const ls = lane("lane-schedule");
    for (const p of d.schedule || []) {
      const cat = String(p.category || "OTHER");
      block(ls, "schedule", p.start, p.end, p.activity, `cat-${cat}`, prettify(p.activity) || cat);
    }
    const lst = lane("lane-state");
    for (const p of d.states || []) {
      block(lst, "state", p.start, p.end, p.state, `st-${p.state}`, stateText(p.state, p.reasonCode));
    }
    const lo = lane("lane-out");
    for (const p of d.adherence || []) {
      if (p.adherence === "OUT") block(lo, "out", p.start, p.end, null, "out", "Out of adherence");
    }
    const nowLine = el("div", "tl-now");
    nowLine.setAttribute("aria-hidden", "true");
    parts.push(nowLine);
    timelineEl.replaceChildren(...parts);
    tickTimeline(now());
  }
  function tickTimeline(t) {
    const d = drawer.data;
    const line = timelineEl.querySelector(".tl-now");
    if (!d || !line) return;
    const inside = t >= d.dayStart && t < d.dayEnd;
    line.hidden = !inside;
    if (inside) line.style.left = `${((100 * (t - d.dayStart)) / (d.dayEnd - d.dayStart)).toFixed(4)}%`;
  }
  /** The drawer's legend (static). */
  (function buildLegend() {
    const items = [["cat-IN_SERVICE", "In service"], ["cat-BREAK", "Break / lunch"], ["cat-OFF_PHONE", "Off phone"],
      ["cat-OFF", "Other"], ["st-READY", "Ready"], ["st-TALKING", "Talking"], ["st-HOLD", "Hold"],
      ["st-WORK_NOT_READY", "Wrap-up"], ["st-NOT_READY", "Not ready"], ["st-LOGOUT", "Logged out"], ["out", "Out of adherence"]];
    $("tl-legend").replaceChildren(...items.map(([cls, label]) => {
      const s = el("span", null, label);
      const sw = el("i", `tl-block ${cls}`);
      sw.style.position = "static";
      s.prepend(sw);
      return s;
    }));
  })();
  $("drawer-close").addEventListener("click", closeDrawer);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && drawer.agentId && $("signin").hidden) closeDrawer();
  });

  // ------------------------------------------------------------------ the clock tick
  let lastPrune = 0; // performance.now() of the last prune
  let lastDateReconnect = -1e9;
  const MIDNIGHT_JITTER_MS = 2000 + Math.floor(Math.random() * 20000);
  /** Once a second, on the server clock's second boundaries. */
  function tick() {
    const t = now();
    if (store.tenant) {
      const mono = performance.now();
      if (mono - lastPrune > 60000) { lastPrune = mono; pruneAlerts(t); }
      // The tenant's day changed: a fresh snapshot brings the new date (once a minute at
      // most; each page a few seconds after midnight of its own, not all screens at once).
      if (store.date && conn.state === "live" && localDate(t - MIDNIGHT_JITTER_MS) > store.date &&
          mono - lastDateReconnect > 60000) {
        lastDateReconnect = mono;
        connect();
      }
      // No event, not even a heartbeat, for a while: the connection is dead without saying so.
      if (conn.es && conn.state === "live" && Date.now() - conn.lastEvent > STALE_MS) {
        closeEvents();
        setConnection("reconnecting");
        scheduleRetry();
      }
      ui.fullRefill = true; // the visible timers
      ui.resortWanted = true; // classes move with time (out -> alert)
    }
    ui.tickDue = true;
    scheduleFrame();
    setTimeout(tick, 1000 - (now() % 1000) + 5);
  }
  /** The clock and the timers outside the grid (in a frame). */
  function renderTick(t) {
    ui.tickDue = false;
    setText($("clock"), fmt.time.format(t));
    setText($("clock-date"), fmt.clockDate.format(t));
    if (!store.tenant) return;
    tickAlerts(t);
    if (drawer.agentId) { renderDrawerHead(t); tickTimeline(t); }
  }

  // ------------------------------------------------------------------ connection
  const conn = { es: null, state: "reconnecting", backoff: 1000, retryTimer: 0, lastEvent: 0, lostAt: 0, epoch: 0 };

  function setConnection(state, text) {
    const was = conn.state;
    conn.state = state;
    const c = $("connection");
    c.setAttribute("data-state", state);
    let label = text || { live: "Live", reconnecting: "Reconnecting…", signedout: "Signed out" }[state];
    // Say how old the figures on screen are (they stay while reconnecting).
    if (state === "reconnecting" && !text) {
      if (was === "live") conn.lostAt = now();
      if (conn.lostAt && store.tenant) label += ` data of ${fmt.time.format(conn.lostAt)}`;
    }
    setText(c.querySelector(".connection-text"), label);
    c.title = label;
  }
  function banner(text) {
    const b = $("banner");
    b.hidden = !text;
    setText(b, text || "");
  }
  function closeEvents() {
    if (conn.es) { conn.es.close(); conn.es = null; }
  }

  /** Open the event stream; its first event is a snapshot that replaces the store. */
  function connect() {
    closeEvents();
    clearTimeout(conn.retryTimer);
    const es = new EventSource(API.events);
    conn.es = es;
    conn.lastEvent = Date.now();
    const on = (name, fn) => es.addEventListener(name, (ev) => {
      if (es !== conn.es) return;
      conn.lastEvent = Date.now();
      let data;
      try { data = JSON.parse(ev.data); } catch (_) { return; }
      fn(data);
    });
    on("snapshot", (s) => {
      applySnapshot(s);
      conn.backoff = 1000;
      banner("");
      setConnection("live");
    });
    on("status", onStatus);
    on("summary", onSummary);
    on("alert", onAlert);
    on("heartbeat", (h) => { if (typeof h.now === "number") store.offset = h.now - Date.now(); });
    on("signedout", () => showSignin("Your session ended. Sign in again."));
    es.onerror = () => {
      if (es !== conn.es) return;
      // Keep the data on screen; EventSource retries by itself unless it gave up (CLOSED).
      setConnection("reconnecting");
      if (es.readyState === EventSource.CLOSED) {
        conn.es = null;
        scheduleRetry();
      }
    };
  }

  /** Retry with back-off (1 s, 2 s, 4 s … 10 s), asking the snapshot first whether we are still signed in. */
  function scheduleRetry() {
    clearTimeout(conn.retryTimer);
    const delay = conn.backoff;
    conn.backoff = Math.min(conn.backoff * 2, 10000);
    const epoch = conn.epoch;
    conn.retryTimer = setTimeout(async () => {
      if (epoch !== conn.epoch) return;
      const r = await getSnapshot();
      if (epoch !== conn.epoch) return;
      if (r.status === 401) return showSignin("Your session ended. Sign in again.");
      if (r.ok) {
        applySnapshot(r.body); // fresh figures even before the stream is back
        connect();
      } else {
        banner(retryText(r));
        scheduleRetry();
      }
    }, delay);
  }

  function retryText(r) {
    const why = r.status ? `the server answered ${r.status}${r.message.startsWith(String(r.status)) ? "" : ` (${r.message})`}`
      : "the server cannot be reached";
    return `Live data interrupted: ${why}. Retrying in ${Math.round(conn.backoff / 1000)} s…`;
  }

  async function getSnapshot() {
    try {
      const resp = await fetch(API.snapshot, { credentials: "same-origin", cache: "no-store" });
      const body = await readJson(resp);
      return { ok: resp.ok && !!body, status: resp.status, body, message: errorMessage(body, resp) };
    } catch (_) {
      return { ok: false, status: 0, body: null, message: "network error" };
    }
  }

  /** Start (or restart after signing in): snapshot first, so a 401 can be told from other failures. */
  async function start() {
    conn.epoch++;
    setConnection("reconnecting", "Connecting…");
    const epoch = conn.epoch;
    const r = await getSnapshot();
    if (epoch !== conn.epoch) return;
    if (r.status === 401) return showSignin("");
    $("signout").hidden = false;
    if (r.ok) {
      applySnapshot(r.body);
      connect();
    } else {
      banner(retryText(r));
      scheduleRetry();
    }
  }

  // ------------------------------------------------------------------ sign-in / sign-out
  function clearStore() {
    store.tenant = null;
    store.date = null;
    store.agents = new Map();
    store.summaries = new Map();
    store.alerts = new Map();
    store.openAlerts = new Map();
    setText($("tenant"), "");
    ui.alertsDirty = ui.teamsDirty = ui.filtersDirty = true;
    requestResort();
  }
  function showSignin(note) {
    conn.epoch++; // cancels pending retries
    clearTimeout(conn.retryTimer);
    closeEvents();
    if (drawer.agentId) closeDrawer();
    clearStore(); // a signed-out page shows nothing of the tenant
    banner("");
    setConnection("signedout");
    $("signout").hidden = true;
    setText($("signin-note"), note || "Use your tenant's API key, or a user and password.");
    $("signin-error").hidden = true;
    $("signin").hidden = false;
    document.body.classList.add("signed-out");
    $("apikey").focus();
  }
  async function signIn(url, body, button) {
    const errEl = $("signin-error");
    errEl.hidden = true;
    button.disabled = true;
    try {
      const resp = await fetch(url, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
      if (!resp.ok) {
        setText(errEl, errorMessage(await readJson(resp), resp));
        errEl.hidden = false;
        return;
      }
      $("apikey").value = "";
      $("password").value = "";
      $("signin").hidden = true;
      document.body.classList.remove("signed-out");
      start();
    } catch (_) {
      setText(errEl, "The server cannot be reached.");
      errEl.hidden = false;
    } finally {
      button.disabled = false;
    }
  }
  $("form-key").addEventListener("submit", (e) => {
    e.preventDefault();
    signIn(API.signin, { apiKey: $("apikey").value.trim() }, $("signin-key"));
  });
  $("form-password").addEventListener("submit", (e) => {
    e.preventDefault();
    signIn(API.authorize, { userId: $("userid").value.trim(), password: $("password").value }, $("signin-password"));
  });
  $("signout").addEventListener("click", async () => {
    try {
      await fetch(API.signout, { method: "POST", credentials: "same-origin" });
    } catch (_) { /* signed out locally all the same */ }
    showSignin("You signed out.");
  });

  // ------------------------------------------------------------------ test hooks
  window.RTAMonitor = {
    store,
    stats: () => ({
      agents: store.agents.size,
      rendered: grid.childElementCount,
      lastRenderMs: ui.stats.lastRenderMs,
      maxRenderMs: ui.stats.maxRenderMs,
      renders: ui.stats.renders,
    }),
    hourTicks,
    classOf: (id, t) => { const a = store.agents.get(String(id)); return a ? classOf(a, t == null ? now() : t) : null; },
    now,
    fmtDuration,
    localDate: (ms) => localDate(ms == null ? now() : ms),
    visibleAgents: () => ui.list.slice(),
    openTimeline: openDrawer,
    closeTimeline: closeDrawer,
    resetStats: () => { ui.stats.renders = 0; ui.stats.lastRenderMs = 0; ui.stats.maxRenderMs = 0; },
  };

  tick();
  start();
})();
