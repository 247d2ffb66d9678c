// Interlock dashboard: local times, live updates, filters and buttons without a reload.
// Plain script, no build step; every page also works without it (forms post, links navigate).
(function () {
  "use strict";

  const body = document.body;
  const base = body.dataset.base || "";
  const watched = (body.dataset.watch || "*").split(/\s+/).filter(Boolean);
  const liveStatus = document.getElementById("live-status");
  const notice = document.getElementById("notice");
  const POLL_MS = 15000;
  const DEBOUNCE_MS = 200;

  // ------------------------------------------------------------------ times in the viewer's zone
  const parts = { hour: "2-digit", minute: "2-digit", timeZoneName: "short" };
  const withYear = new Intl.DateTimeFormat(undefined, Object.assign({ year: "numeric", month: "short", day: "numeric" }, parts));
  const withDay = new Intl.DateTimeFormat(undefined, Object.assign({ month: "short", day: "numeric" }, parts));
  const clock = new Intl.DateTimeFormat(undefined, parts);

  function sameDay(a, b) {
    return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
  }

  function local(when, today) {
    if (sameDay(when, today)) return "today " + clock.format(when);
    return (when.getFullYear() === today.getFullYear() ? withDay : withYear).format(when);
  }

  function localizeTimes(root) {
    const today = new Date();
    root.querySelectorAll("time[data-local]").forEach(function (el) {
      const when = new Date(el.getAttribute("datetime"));
      if (isNaN(when)) return;
      el.textContent = local(when, today);
    });
    document.querySelectorAll("[data-zone]").forEach(function (el) {
      el.textContent = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    });
  }

  // ------------------------------------------------------------------ notices
  function say(level, message) {
    if (!notice) return;
    const p = document.createElement("p");
    p.className = "notice notice-" + (["ok", "warn", "error"].includes(level) ? level : "ok");
    p.textContent = message;
    notice.replaceChildren(p);
  }

  // ------------------------------------------------------------------ refresh in place
  let refreshing = null;
  let again = false;
  let timer = null;

  function openDetails() {
    return Array.from(document.querySelectorAll("details[open][id]"), function (d) { return d.id; });
  }

  // a link inside a region about to be replaced keeps the keyboard focus (by its address)
  function focusedLink() {
    const active = document.activeElement;
    return active && active.matches("[data-live] a[href]") ? active.getAttribute("href") : null;
  }

  async function refresh() {
    if (refreshing) { again = true; return refreshing; }
    refreshing = (async function () {
      try {
        const response = await fetch(location.href, {
          headers: { Accept: "text/html" }, credentials: "same-origin", cache: "no-store",
        });
        if (response.status === 401 || (response.redirected && new URL(response.url).pathname.endsWith("/login"))) {
          location.reload();
          return;
        }
        if (!response.ok) return;
        const next = new DOMParser().parseFromString(await response.text(), "text/html");
        const open = openDetails();
        const focused = focusedLink();
        document.querySelectorAll("[data-live][id]").forEach(function (el) {
          const fresh = next.getElementById(el.id);
          if (fresh) el.replaceWith(document.adoptNode(fresh));
        });
        open.forEach(function (id) { const d = document.getElementById(id); if (d) d.open = true; });
        if (focused) {
          const again = document.querySelector('[data-live] a[href="' + CSS.escape(focused) + '"]');
          if (again) again.focus();
        }
        localizeTimes(document);
        body.dataset.refreshed = String(Date.now());
      } catch (err) {
        // the next change or poll tries again
      } finally {
        refreshing = null;
        if (again) { again = false; refresh(); }
      }
    })();
    return refreshing;
  }

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(refresh, DEBOUNCE_MS);
  }

  // ------------------------------------------------------------------ live updates
  function setLive(state, text) {
    if (!liveStatus) return;
    liveStatus.dataset.state = state;
    liveStatus.textContent = text;
  }

  function concerns(names) {
    return watched.includes("*") || names.some(function (n) { return watched.includes(n); });
  }

  let pollTimer = null;
  function poll() {
    if (pollTimer) return;
    setLive("polling", "Updating every 15 s");
    pollTimer = setInterval(refresh, POLL_MS);
  }

  function listen() {
    if (!liveStatus || !("EventSource" in window)) { if (liveStatus) poll(); return; }
    const source = new EventSource(base + "/live");
    let opened = false;
    let failures = 0;
    source.addEventListener("hello", function () {
      if (opened) soon(); // reconnected: catch up on anything missed
      opened = true;
      failures = 0;
      if (pollTimer) { clearInterval(pollTimer); pollTimer = null; }
      setLive("on", "Live");
    });
    source.addEventListener("change", function (event) {
      let names = [];
      try { names = JSON.parse(event.data); } catch (err) { names = ["*"]; }
      if (concerns(names)) soon();
    });
    source.addEventListener("error", function () {
      failures += 1; // a stream also ends by itself now and then: the browser reconnects at once
      if (failures > 3) { source.close(); poll(); return; }
      if (failures > 1) setLive("off", "Reconnecting…");
    });
  }

  // ------------------------------------------------------------------ filters without a reload
  function wireFilters() {
    const form = document.querySelector("form[data-filters]");
    if (!form) return;
    function apply() {
      const params = new URLSearchParams(new FormData(form));
      for (const [key, value] of Array.from(params.entries())) { if (!value) params.delete(key); }
      const query = params.toString();
      history.replaceState(null, "", location.pathname + (query ? "?" + query : ""));
      refresh();
    }
    let typing = null;
    form.addEventListener("submit", function (event) { event.preventDefault(); apply(); });
    form.addEventListener("change", apply);
    form.querySelector("input[type=search]").addEventListener("input", function () {
      clearTimeout(typing);
      typing = setTimeout(apply, 250);
    });
  }

  // ------------------------------------------------------------------ buttons
  function wireActions() {
    document.querySelectorAll("form[data-action]").forEach(function (form) {
      form.addEventListener("submit", async function (event) {
        event.preventDefault();
        const button = form.querySelector("button[type=submit]");
        const label = button ? button.textContent : "";
        if (button) { button.disabled = true; button.textContent = "Working…"; }
        try {
          const response = await fetch(form.action, {
            method: "POST", credentials: "same-origin",
            headers: { Accept: "application/json", "Content-Type": "application/x-www-form-urlencoded" },
            body: new URLSearchParams(new FormData(form)).toString(),
          });
          const answer = await response.json().catch(function () { return { level: "error", message: "HTTP " + response.status }; });
          say(answer.level, answer.message);
          const details = form.closest("details");
          if (details && answer.level !== "error") details.open = false;
        } catch (err) {
          say("error", "The server could not be reached.");
        } finally {
          if (button) { button.disabled = false; button.textContent = label; }
        }
        await refresh();
      });
    });
  }

  localizeTimes(document);
  wireFilters();
  wireActions();
  listen();
})();
