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
    return { status: response.status, body: parsed };
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

  /** "26/11 alle 22:05" in the workstation's time zone. */
  function dayTime(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (isNaN(d.getTime())) return "";
    return pad(d.getDate()) + "/" + pad(d.getMonth() + 1) + " alle " + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  /** "26/11/2026 22:05:03". */
  function fullTime(iso) {
    const d = new Date(iso);
    if (isNaN(d.getTime())) return iso || "";
    return pad(d.getDate()) + "/" + pad(d.getMonth() + 1) + "/" + d.getFullYear() + " " + pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }

  /** Builds an element with text content only (never innerHTML with data). */
  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  window.tsgate = { api, errorMessage, announce, dayTime, fullTime, el };
})();
