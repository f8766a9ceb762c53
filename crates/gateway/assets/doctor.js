// The page of the codes: one card per user, live through Server-Sent Events.
"use strict";
(function () {
  const T = window.tsgate;
  const root = document.getElementById("cards");
  if (!root) return;
  const myWorkstation = root.dataset.workstation;
  const isAdmin = root.dataset.admin === "true";
  // The server's warning window ("yellow in the last hour" unless configured otherwise),
  // from the view's yellow_from; an hour for a server that does not send it.
  function yellowSeconds(v) {
    if (!v.yellow_from || !v.expires_at) return 3600;
    return Math.max(0, (Date.parse(v.expires_at) - Date.parse(v.yellow_from)) / 1000);
  }
  function windowWords(v) {
    const m = Math.round(yellowSeconds(v) / 60);
    if (m > 0 && m % 60 === 0) return m === 60 ? "un'ora" : (m / 60) + " ore";
    return m + " minuti";
  }
  // The checklist appears when the mail is late, not at once.
  const HELP_AFTER_SECONDS = 60;
  const LEVEL_WORDS = { green: "verde", yellow: "giallo", red: "rosso" };
  const cards = new Map();
  const workstationNames = new Map();
  const dialog = document.getElementById("confirm-replace");
  const live = document.querySelector('[data-role="live"]');

  function part(card, role) { return card.el.querySelector('[data-role="' + role + '"]'); }

  function remainingSeconds(card) {
    if (card.expiresAtMs === null) return null;
    return Math.max(0, Math.floor((card.expiresAtMs - Date.now()) / 1000));
  }

  function effectiveLevel(card) {
    const v = card.view;
    const rem = remainingSeconds(card);
    if ((v.state === "active" || v.state === "suspect") && rem !== null) {
      if (rem <= 0) return "red";
      if (v.state === "active" && rem <= yellowSeconds(v) && v.level === "green") return "yellow";
    }
    return v.level;
  }

  function locallyExpired(card) {
    const rem = remainingSeconds(card);
    return (card.view.state === "active" || card.view.state === "suspect") && rem !== null && rem <= 0;
  }

  function stateText(card, level) {
    const v = card.view;
    const since = v.requested_at ? " dal " + T.dayTime(v.requested_at) : "";
    if (locallyExpired(card)) return "Codice scaduto: richiedine uno nuovo.";
    switch (v.state) {
      case "none": return "Nessun codice: premi «Richiedi il codice».";
      case "awaiting_code": return "In attesa della mail" + since + ": quando arriva, incolla il codice qui sotto.";
      case "active":
        if (v.pending) return "Codice attivo · nuovo codice pronto a sostituirlo: incollalo dalla mail.";
        if (level === "yellow") return "Codice attivo, scade entro " + windowWords(v) + ": richiedine uno nuovo.";
        return "Codice attivo.";
      case "suspect": return "Verifica in corso: Sistema TS ha segnalato il codice, tsgate lo sta ricontrollando.";
      case "expired": return "Codice scaduto: richiedine uno nuovo.";
      case "revoked": return "Codice revocato: richiedine uno nuovo.";
      case "rejected": return "Codice rifiutato da Sistema TS: richiedine uno nuovo e copialo per intero.";
      case "credentials_refused": return "Password o PIN rifiutati da Sistema TS: aggiornali; tsgate non riprova finché non li cambi.";
      default: return v.state;
    }
  }

  function countdownText(card) {
    const rem = remainingSeconds(card);
    if (rem === null) return "Nessun codice in uso";
    const at = T.dayTime(card.view.expires_at);
    if (rem <= 0) return "Scaduto il " + at;
    const h = Math.floor(rem / 3600), m = Math.floor((rem % 3600) / 60), s = rem % 60;
    return "Scade tra " + h + " h " + String(m).padStart(2, "0") + " min " + String(s).padStart(2, "0") + " s (" + at + ")";
  }

  // Chrome on Android allows notifications only from a service worker: one is registered
  // (secure pages only: HTTPS or localhost) and shows them when the page may not.
  let notifier = null;
  if ("serviceWorker" in navigator && window.isSecureContext) {
    navigator.serviceWorker.register("/assets/notify-sw.js", { scope: "/assets/" })
      .then(function (r) { notifier = r; })
      .catch(function () { /* notifications stay on-screen announcements */ });
  }

  function notify(card, text) {
    T.announce(text);
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    const options = { body: text, tag: "tsgate-" + card.user };
    try {
      new Notification("tsgate", options);
    } catch (e) {
      if (notifier) notifier.showNotification("tsgate", options).catch(function () { /* announced anyway */ });
    }
  }

  function render(card) {
    const level = effectiveLevel(card);
    const v = card.view;
    const light = card.el.querySelector('[data-testid="session-level"]');
    light.dataset.level = level;
    light.setAttribute("aria-label", "Semaforo " + LEVEL_WORDS[level]);
    card.el.classList.remove("level-green", "level-yellow", "level-red");
    card.el.classList.add("level-" + level);
    const st = stateText(card, level);
    part(card, "state").textContent = st;
    part(card, "countdown").textContent = countdownText(card);
    const err = part(card, "error");
    if (v.last_error && v.last_error.message && level === "red") {
      err.textContent = v.last_error.message; err.hidden = false;
    } else { err.hidden = true; err.textContent = ""; }
    if (card.noticeShown && v.state === "active" && !locallyExpired(card)) {
      part(card, "notice").hidden = true;
      card.noticeShown = false;
    }
    const pw = part(card, "password-warning");
    if (v.password_warning) { pw.textContent = v.password_warning; pw.hidden = false; } else { pw.hidden = true; }
    const button = part(card, "request");
    button.textContent = (v.state === "active" && !locallyExpired(card)) ? "Richiedi un nuovo codice" : "Richiedi il codice";
    updateTrouble(card);
    const copy = part(card, "copy");
    if (copy) copy.hidden = !((v.state === "active" || v.state === "suspect") && !locallyExpired(card));

    // Announcements and notifications, only for real changes after the first render.
    const expired = v.state === "expired" || locallyExpired(card);
    if (card.rendered) {
      if (level !== card.lastLevel || st !== card.lastText) {
        T.announce(card.name + ": " + st + " Semaforo " + LEVEL_WORDS[level] + ".");
      }
      if (level === "yellow" && card.lastLevel === "green") {
        notify(card, card.name + ": il codice scade entro " + windowWords(v) + ". Richiedine uno nuovo.");
      }
      if (expired && !card.lastExpired) {
        notify(card, card.name + ": il codice è scaduto. Richiedine uno nuovo.");
      }
      if (v.state === "active" && !expired && (card.lastState !== "active" || card.lastExpiresAt !== v.expires_at)) {
        notify(card, card.name + ": nuovo codice attivo fino al " + T.dayTime(v.expires_at) + ".");
      }
    }
    card.rendered = true;
    card.lastLevel = level;
    card.lastText = st;
    card.lastState = v.state;
    card.lastExpiresAt = v.expires_at;
    card.lastExpired = expired;
  }

  function updateTrouble(card) {
    const box = part(card, "trouble");
    const v = card.view;
    let show = false;
    if (v.state === "awaiting_code" && v.requested_at) {
      const waited = (Date.now() - new Date(v.requested_at).getTime()) / 1000;
      show = waited >= HELP_AFTER_SECONDS;
    }
    if (v.last_error && /mail|100|200|a2f/i.test(v.last_error.code || "")) show = true;
    if (show && box.hidden) {
      box.hidden = false;
      loadDiagnostics(card);
    } else if (!show && !box.hidden) {
      box.hidden = true;
    }
  }

  async function loadDiagnostics(card) {
    const list = part(card, "diagnostics");
    list.textContent = "";
    const res = await T.api("GET", "/api/v1/users/" + encodeURIComponent(card.user) + "/mailbox");
    if (res.status !== 200 || !res.body) return;
    const diags = Array.isArray(res.body.diagnostics) ? res.body.diagnostics : [];
    diags.forEach(function (d) {
      const text = typeof d === "string" ? d : (d && (d.message || d.text)) || "";
      if (text) list.appendChild(T.el("li", "Casella: " + text));
    });
  }

  function actorName(actor) {
    if (!actor) return "";
    if (actor.indexOf("ws:") === 0) {
      const id = actor.slice(3);
      if (id === myWorkstation) return "questa postazione";
      return workstationNames.get(id) ? "postazione «" + workstationNames.get(id) + "»" : "un'altra postazione";
    }
    return { cli: "riga di comando", mailbox: "casella di posta", system: "tsgate" }[actor] || actor;
  }

  const OUTCOMES = {
    sent: "richiesta inviata a Sistema TS", mailed: "mail spedita da Sistema TS", joined: "unita a una richiesta in corso",
    code_active: "non inviata: c'era già un codice valido", too_soon: "troppo ravvicinata, non inviata", ok: "ok"
  };

  async function loadHistory(card) {
    const list = part(card, "history");
    const items = [];
    if (isAdmin) {
      const res = await T.api("GET", "/api/v1/audit?kind=requested&limit=5&user=" + encodeURIComponent(card.user));
      if (res.status === 200 && Array.isArray(res.body)) {
        res.body.forEach(function (e) {
          items.push(T.fullTime(e.at) + " · " + actorName(e.actor) + " · " + (OUTCOMES[e.outcome] || e.outcome));
        });
      }
    }
    if (!isAdmin) {
      // Without the audit: the requests seen by this page (the state forgets them once the
      // code is active).
      if (card.view.requested_at && !card.seen.some(function (r) { return r.at === card.view.requested_at; })) {
        card.seen.unshift({ at: card.view.requested_at, by: card.view.requested_by });
        card.seen = card.seen.slice(0, 5);
      }
      card.seen.forEach(function (r) { items.push(T.fullTime(r.at) + " · " + actorName(r.by)); });
    }
    list.textContent = "";
    if (!items.length) list.appendChild(T.el("li", "Nessuna richiesta recente.", "muted"));
    items.forEach(function (t) { list.appendChild(T.el("li", t)); });
  }

  function update(view) {
    const card = cards.get(view.user);
    if (!card) return;
    const requestChanged = card.view.requested_at !== view.requested_at;
    if (card.view.state !== view.state || card.view.pending !== view.pending) {
      // The last message was about the previous state: it would now mislead.
      const msg = part(card, "msg");
      msg.textContent = "";
      msg.className = "msg";
    }
    card.view = view;
    card.expiresAtMs = (view.remaining_seconds === null || view.remaining_seconds === undefined)
      ? null : Date.now() + view.remaining_seconds * 1000;
    render(card);
    if (requestChanged) loadHistory(card);
  }

  function say(card, text, ok) {
    const msg = part(card, "msg");
    msg.textContent = text;
    msg.className = "msg " + (ok ? "ok" : "bad");
  }

  function confirmReplace(text) {
    return new Promise(function (resolve) {
      if (!dialog || typeof dialog.showModal !== "function") { resolve(window.confirm(text)); return; }
      dialog.querySelector('[data-role="confirm-text"]').textContent = text;
      dialog.returnValue = "";
      dialog.addEventListener("close", function onClose() {
        dialog.removeEventListener("close", onClose);
        resolve(dialog.returnValue === "ok");
      });
      dialog.showModal();
      dialog.querySelector('[data-role="confirm-cancel"]').focus();
    });
  }

  async function requestCode(card, replace) {
    const button = part(card, "request");
    button.disabled = true;
    try {
      const path = "/api/v1/users/" + encodeURIComponent(card.user) + "/session/request";
      const res = await T.api("POST", path, { replace: replace });
      if (res.status === 202) {
        if (res.body && res.body.session) update(res.body.session);
        say(card, res.body && res.body.outcome === "joined"
          ? "Una richiesta era già in corso: attendi la mail."
          : "Richiesta inviata: attendi la mail di Sistema TS, poi incolla il codice.", true);
        return;
      }
      if (res.status === 409 && res.body && res.body.error && res.body.error.code === "code_active" && !replace) {
        button.disabled = false;
        if (await confirmReplace(T.errorMessage(res))) return requestCode(card, true);
        say(card, "Nessuna nuova richiesta: resta in uso il codice attuale.", true);
        return;
      }
      say(card, T.errorMessage(res), false);
    } finally {
      button.disabled = false;
    }
  }

  async function submitCode(card, input) {
    const code = input.value;
    if (!code.trim()) { say(card, "Incolla prima il codice ricevuto per mail.", false); input.focus(); return; }
    const submit = card.el.querySelector('[data-testid="code-submit"]');
    submit.disabled = true;
    say(card, "Verifica del codice con Sistema TS…", true);
    try {
      const res = await T.api("POST", "/api/v1/users/" + encodeURIComponent(card.user) + "/session/code", { code: code });
      if (res.status === 200 && res.body) {
        input.value = "";
        update(res.body);
        say(card, "Codice verificato e attivo per tutte le postazioni.", true);
      } else {
        say(card, T.errorMessage(res), false);
        input.focus();
      }
    } finally {
      submit.disabled = false;
    }
  }

  async function copyCode(card) {
    const res = await T.api("GET", "/api/v1/users/" + encodeURIComponent(card.user) + "/session/code");
    if (res.status !== 200 || !res.body || !res.body.code) { say(card, T.errorMessage(res), false); return; }
    const code = res.body.code;
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(code);
      } else {
        // Plain-HTTP pages on the LAN have no Clipboard API: a detached field, removed at once.
        const area = document.createElement("textarea");
        area.value = code;
        area.setAttribute("readonly", "");
        area.className = "sr-only";
        area.setAttribute("aria-hidden", "true");
        document.body.appendChild(area);
        area.select();
        const ok = document.execCommand("copy");
        area.remove();
        if (!ok) throw new Error("copy refused");
      }
      say(card, "Codice copiato negli appunti: incollalo nel programma che lo richiede.", true);
    } catch (e) {
      say(card, "Il browser non ha permesso di copiare: riprova con un clic sul pulsante.", false);
    }
  }

  function setup(el) {
    let view;
    try { view = JSON.parse(el.dataset.view); } catch (e) { return; }
    const card = {
      el: el, user: el.dataset.user, view: view, expiresAtMs: null, rendered: false, seen: [],
      name: (el.querySelector("h2") || {}).textContent || el.dataset.user
    };
    card.expiresAtMs = (view.remaining_seconds === null || view.remaining_seconds === undefined)
      ? null : Date.now() + view.remaining_seconds * 1000;
    cards.set(card.user, card);
    part(card, "request").addEventListener("click", function () { requestCode(card, false); });
    const form = part(card, "paste");
    const input = form.querySelector("input");
    form.addEventListener("submit", function (e) { e.preventDefault(); submitCode(card, input); });
    const copy = part(card, "copy");
    if (copy) copy.addEventListener("click", function () { copyCode(card); });
    render(card);
    loadHistory(card);
  }

  // A call of the practice software was refused for lack of a code: say it on the card
  // (until a code is active again) and as a notification, wherever the doctor is.
  function onNotice(n) {
    const card = cards.get(n.user);
    if (!card || n.kind !== "proxy_refused") return;
    const box = part(card, "notice");
    box.textContent = "Il " + T.dayTime(n.at) + ": " + n.message;
    box.hidden = false;
    card.noticeShown = true;
    notify(card, card.name + ": " + n.message);
  }

  function connect() {
    const source = new EventSource("/api/v1/events");
    source.addEventListener("session", function (e) {
      try { update(JSON.parse(e.data)); } catch (err) { /* ignore a malformed event */ }
    });
    source.addEventListener("notice", function (e) {
      try { onNotice(JSON.parse(e.data)); } catch (err) { /* ignore a malformed event */ }
    });
    source.onopen = function () {
      live.textContent = "Aggiornamento in tempo reale attivo";
      live.className = "live ok";
      root.dataset.live = "on";
    };
    source.onerror = function () {
      live.textContent = "Collegamento con tsgate interrotto: riprovo da solo…";
      live.className = "live down";
      root.dataset.live = "off";
      if (source.readyState === EventSource.CLOSED) {
        // Refused (session ended?): the API call sends us to sign-in if so; else retry.
        T.api("GET", "/api/v1/users").then(function () { window.setTimeout(connect, 5000); });
      }
    };
  }

  function setupNotifications() {
    const button = document.querySelector('[data-role="enable-notifications"]');
    if (!button || !("Notification" in window) || Notification.permission !== "default") return;
    button.hidden = false;
    button.addEventListener("click", function () {
      Notification.requestPermission().then(function (p) {
        button.hidden = true;
        T.announce(p === "granted" ? "Notifiche attivate." : "Notifiche non consentite dal browser.");
      });
    });
  }

  async function loadWorkstationNames() {
    if (!isAdmin) return;
    const res = await T.api("GET", "/api/v1/workstations");
    if (res.status === 200 && Array.isArray(res.body)) {
      res.body.forEach(function (w) { workstationNames.set(w.id, w.name); });
      cards.forEach(loadHistory);
    }
  }

  root.querySelectorAll('[data-testid="session-card"]').forEach(setup);
  setupNotifications();
  connect();
  loadWorkstationNames();
  window.setInterval(function () { cards.forEach(render); }, 1000);
})();
