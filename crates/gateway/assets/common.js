// Shared helpers of the tsgate pages. The session cookie is HttpOnly: scripts never see the
// workstation token; state-changing calls carry the CSRF token given by the page.
"use strict";
(function () {
  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrf = meta ? meta.content : "";

  /** Calls the JSON API; resolves to {status, body} (body is parsed JSON or null). */
  async function api(method, path, body) {
    const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (method !== "GET" && method !== "HEAD") init.headers["X-CSRF-Token"] = csrf;
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (e) {
      return { status: 0, body: { error: { code: "network", message: "tsgate non risponde: controlla la rete della postazione e riprova." } } };
    }
    let parsed = null;
    const text = await response.text();
    if (text) { try { parsed = JSON.parse(text); } catch (e) { parsed = null; } }
    if (response.status === 401) {
      // Session ended (logout elsewhere, workstation revoked): back to sign-in.
      window.location.assign("/login");
    }
    // Long lists come a page at a time: the next page's cursor, when there is one.
    return { status: response.status, body: parsed, next: response.headers.get("X-Next-Cursor") };
  }

  /** The Italian message of an API error answer. */
  function errorMessage(res) {
    if (res.body && res.body.error && res.body.error.message) return res.body.error.message;
    return "Operazione non riuscita (errore " + res.status + "). Riprova tra poco.";
  }

  /** Tells screen readers about a change. */
  function announce(text) {
    const el = document.getElementById("announcer");
    if (!el) return;
    el.textContent = "";
    window.setTimeout(function () { el.textContent = text; }, 50);
  }

  function pad(n) { return String(n).padStart(2, "0"); }

  // Times are the practice's (Italian civil time), as the server's own messages are
  // ("Rinnovo automatico alle 12:40"), whatever the time zone of the workstation.
  const ROME = (function () {
    try {
      return new Intl.DateTimeFormat("it-IT", {
        timeZone: "Europe/Rome", year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23"
      });
    } catch (e) {
      return null;
    }
  })();

  /** Day, month, year, hour, minute, second of `iso` in Italian time; null if invalid. */
  function parts(iso) {
    if (!iso) return null;
    const d = new Date(iso);
    if (isNaN(d.getTime())) return null;
    if (ROME) {
      const o = {};
      ROME.formatToParts(d).forEach(function (p) { o[p.type] = p.value; });
      return o;
    }
    return {
      day: pad(d.getDate()), month: pad(d.getMonth() + 1), year: String(d.getFullYear()),
      hour: pad(d.getHours()), minute: pad(d.getMinutes()), second: pad(d.getSeconds())
    };
  }

  /** "26/11 alle 22:05". */
  function dayTime(iso) {
    const p = parts(iso);
    return p ? p.day + "/" + p.month + " alle " + p.hour + ":" + p.minute : "";
  }

  /** "22:05". */
  function clock(iso) {
    const p = parts(iso);
    return p ? p.hour + ":" + p.minute : "";
  }

  /** "26/11/2026 22:05:03". */
  function fullTime(iso) {
    const p = parts(iso);
    return p ? p.day + "/" + p.month + "/" + p.year + " " + p.hour + ":" + p.minute + ":" + p.second : (iso || "");
  }

  /** A duration as a doctor reads it: "15 h 04 min", "58 min", "40 s" (never "0 h 58 min"),
   * with no-break spaces so that a number never wraps away from its unit. */
  function duration(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    if (s >= 3600) return Math.floor(s / 3600) + "\u00a0h\u00a0" + pad(Math.floor((s % 3600) / 60)) + "\u00a0min";
    if (s >= 60) return Math.floor(s / 60) + "\u00a0min";
    return s + "\u00a0s";
  }

  /** "alle 22:05" on the Italian day of `nowMs`, else "il 26/11 alle 22:05" (as the server's
   * messages say it). */
  function atTime(iso, nowMs) {
    const p = parts(iso);
    const n = parts(new Date(nowMs).toISOString());
    if (!p) return "";
    const clock = p.hour + ":" + p.minute;
    if (n && p.day === n.day && p.month === n.month && p.year === n.year) return "alle " + clock;
    return "il " + p.day + "/" + p.month + " alle " + clock;
  }

  /** Builds an element with text content only (never innerHTML with data). */
  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  window.tsgate = { api, errorMessage, announce, dayTime, clock, atTime, fullTime, duration, el };
})();
