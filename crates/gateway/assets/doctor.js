// The page of the codes: one card per user, live through Server-Sent Events.
//
// A calm card: a headline (the state), one line of detail (countdown, or how long the mail
// has been awaited), the next automatic action, and ONE current message, which each new
// action or event replaces. The server renders the same words for the first paint
// (crates/gateway/src/ui/text.rs): change both together.
"use strict";
(function () {
  const T = window.tsgate;
  const root = document.getElementById("cards");
  if (!root) return;
  const myWorkstation = root.dataset.workstation;
  // A pharmacy's counters are "banchi"; a practice's workstations "postazioni" (text.rs Place).
  const BANCO = root.dataset.place === "banco";
  const PLACE = BANCO
    ? { word: "banco", self: "questo banco", other: "un altro banco", all: "tutti i banchi" }
    : { word: "postazione", self: "questa postazione", other: "un'altra postazione", all: "tutte le postazioni" };
  // The domain's clock may not be this computer's (the demo moves the simulator's): waiting
  // times are counted on the server's clock, estimated from the page and from each view.
  let serverOffsetMs = 0;
  if (root.dataset.now && !isNaN(Date.parse(root.dataset.now))) {
    serverOffsetMs = Date.parse(root.dataset.now) - Date.now();
  }
  function serverNow() { return Date.now() + serverOffsetMs; }

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
  // A message about this workstation's own action that went well fades after this long.
  const OK_MESSAGE_MS = 120 * 1000;
  const LOOK_LABELS = {
    green: "Semaforo verde", yellow: "Semaforo giallo", red: "Semaforo rosso",
    waiting: "Semaforo: in attesa della mail"
  };
  const LOOK_WORDS = { green: "verde", yellow: "giallo", red: "rosso", waiting: "in attesa" };
  // last_error codes that describe the session for every workstation until resolved (the
  // others answered one workstation's action, which was told). Same list as text.rs.
  const STANDING = new Set(["mail_late", "upstream_unavailable", "create_lost", "no_certified_mail",
    "mail_send_failed", "upstream_error", "auto_limit", "password_refused", "pin_refused",
    "user_refused", "credentials_missing"]);
  // Standing problems worth a notification on every workstation, with the next step.
  const NOTIFIED = new Set(["mail_late", "password_refused", "pin_refused", "user_refused"]);
  const cards = new Map();
  const dialog = document.getElementById("confirm-replace");
  const live = document.querySelector('[data-role="live"]');

  function part(card, role) { return card.el.querySelector('[data-role="' + role + '"]'); }

  function remainingSeconds(card) {
    if (card.expiresAtMs === null) return null;
    return Math.max(0, Math.floor((card.expiresAtMs - Date.now()) / 1000));
  }

  function usable(card) {
    const v = card.view;
    const rem = remainingSeconds(card);
    return (v.state === "active" || v.state === "suspect") && rem !== null && rem > 0;
  }

  function locallyExpired(card) {
    const rem = remainingSeconds(card);
    return (card.view.state === "active" || card.view.state === "suspect") && rem !== null && rem <= 0;
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

  function look(card) {
    return card.view.state === "awaiting_code" ? "waiting" : effectiveLevel(card);
  }

  function autoOn(v) { return !!(v.auto && v.auto.enabled && !v.auto.reason); }

  function stateText(card, level) {
    const v = card.view;
    const auto = autoOn(v);
    if (locallyExpired(card)) return auto ? "Codice scaduto." : "Codice scaduto: richiedine uno nuovo.";
    switch (v.state) {
      case "none":
      case "rejected":
        return auto ? "Nessun codice in uso." : "Nessun codice: premi «Richiedi il codice».";
      case "awaiting_code":
        return auto ? "In attesa della mail: tsgate inserisce il codice appena arriva."
          : "In attesa della mail: quando arriva, incolla il codice qui sotto.";
      case "active":
        if (v.pending) {
          return auto ? "Codice attivo · nuovo codice richiesto: tsgate lo attiva appena arriva la mail."
            : "Codice attivo · nuovo codice richiesto: quando arriva la mail, incollalo qui sotto.";
        }
        if (level === "yellow") {
          return "Codice attivo, scade entro " + windowWords(v) + (auto ? ": tsgate lo rinnova da solo." : ": richiedine uno nuovo.");
        }
        return "Codice attivo.";
      case "suspect": return "Verifica in corso: Sistema TS ha segnalato il codice, tsgate lo sta ricontrollando.";
      case "expired": return auto ? "Codice scaduto." : "Codice scaduto: richiedine uno nuovo.";
      case "revoked": return auto ? "Codice revocato." : "Codice revocato: richiedine uno nuovo.";
      case "credentials_refused": return "Password o PIN rifiutati da Sistema TS.";
      default: return v.state;
    }
  }

  function detailText(card) {
    const v = card.view;
    if (v.state === "awaiting_code") {
      if (!v.requested_at) return "";
      const waited = Math.floor((serverNow() - Date.parse(v.requested_at)) / 1000);
      return (v.requested_by === "auto" ? "Richiesto automaticamente" : "Richiesto") + " alle " +
        T.clock(v.requested_at) + " · in attesa da " + T.duration(waited);
    }
    const rem = remainingSeconds(card);
    if (rem === null || !v.expires_at) return "";
    if (rem <= 0) return "Scaduto il " + T.dayTime(v.expires_at);
    return "Scade tra " + T.duration(rem) + " (" + T.dayTime(v.expires_at) + ")";
  }

  function autoText(v) {
    if (!v.auto || !v.auto.enabled) return "";
    return v.auto.next || v.auto.reason || "";
  }

  function standing(v) {
    const e = v.last_error;
    return e && STANDING.has(e.code) && e.message ? e : null;
  }
  function standingKey(v) {
    const e = standing(v);
    return e ? e.code + "\n" + e.message : "";
  }

  // The one message of the card: the newest of this workstation's own action and the live
  // events (a notice, a new standing problem); else the standing problem; else the password
  // warning.
  function currentMessage(card) {
    const m = card.msg;
    if (m && !(m.fades && Date.now() - m.at > OK_MESSAGE_MS)) return m;
    const e = standing(card.view);
    if (e) return { text: e.message, kind: "alert", code: e.code };
    if (card.view.password_warning) return { text: card.view.password_warning, kind: "warn", code: "password_warning" };
    return null;
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

  // Written only when it changes: the message is a live region, which a screen reader would
  // otherwise read again at every second's render.
  function show(el, text) {
    if (el.textContent !== text) el.textContent = text;
    el.hidden = !text;
  }

  function render(card) {
    const level = effectiveLevel(card);
    const lk = look(card);
    const v = card.view;
    const light = card.el.querySelector('[data-testid="session-level"]');
    light.dataset.level = lk;
    light.setAttribute("aria-label", LOOK_LABELS[lk]);
    card.el.classList.remove("look-green", "look-yellow", "look-red", "look-waiting");
    card.el.classList.add("look-" + lk);
    const st = stateText(card, level);
    part(card, "state").textContent = st;
    show(part(card, "countdown"), detailText(card));
    show(part(card, "auto"), autoText(v));

    const m = currentMessage(card);
    const msg = part(card, "msg");
    const cls = "msg" + (m ? " " + m.kind : "");
    if (msg.className !== cls) msg.className = cls;
    msg.dataset.code = m && m.code ? m.code : "";
    show(msg, m ? m.text : "");

    // Green and automatic: nothing to do here; the paste field folds away.
    const calm = lk === "green" && autoOn(v) && !v.pending;
    const button = part(card, "request");
    button.textContent = usable(card) ? "Richiedi un nuovo codice" : "Richiedi il codice";
    // The main action only when there is no code, or it is about to end and nobody renews it.
    button.classList.toggle("primary", lk === "red" || (lk === "yellow" && !autoOn(v)));
    const toggle = part(card, "paste-toggle");
    const form = part(card, "paste");
    if (!calm) card.pasteOpen = false;
    form.hidden = calm && !card.pasteOpen;
    toggle.hidden = !calm || card.pasteOpen;
    toggle.setAttribute("aria-expanded", String(!form.hidden));
    updateTrouble(card);
    const copy = part(card, "copy");
    if (copy) copy.hidden = !usable(card);

    // Announcements and notifications, only for real changes after the first render.
    const expired = v.state === "expired" || locallyExpired(card);
    if (card.rendered) {
      if (lk !== card.lastLook || st !== card.lastText) {
        T.announce(card.name + ": " + st + " Semaforo " + LOOK_WORDS[lk] + ".");
      }
      if (level === "yellow" && card.lastLevel === "green") {
        notify(card, card.name + ": il codice scade entro " + windowWords(v) + "." +
          (autoOn(v) ? " tsgate lo rinnova da solo." : " Richiedine uno nuovo."));
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
    card.lastLook = lk;
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
      const waited = (serverNow() - Date.parse(v.requested_at)) / 1000;
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

  // "Ultime richieste": from the server (every workstation of the user may read them), so
  // that they survive a reload and name the workstation that asked. Same words as text.rs.
  function requester(line) {
    const a = line.actor || "";
    if (a === "ws:" + myWorkstation) return PLACE.self;
    if (a.indexOf("ws:") === 0) return line.workstation_name ? PLACE.word + " «" + line.workstation_name + "»" : PLACE.other;
    return { auto: "rinnovo automatico", mailbox: "casella di posta", cli: "riga di comando", system: "tsgate" }[a] || a;
  }

  const OUTCOMES = {
    sent: "inviata a Sistema TS", mailed: "mail spedita da Sistema TS", issued: "codice ricevuto da Sistema TS",
    too_soon: "non inviata: troppo ravvicinata", auto_limit: "non inviata: limite giornaliero raggiunto",
    upstream_unavailable: "Sistema TS non ha risposto", upstream_error: "errore di Sistema TS",
    no_certified_mail: "nessuna mail certificata (A2F 200)", mail_send_failed: "mail non spedita da Sistema TS (A2F 100)",
    password_refused: "password rifiutata da Sistema TS", pin_refused: "PIN rifiutato da Sistema TS",
    user_refused: "utente non riconosciuto da Sistema TS", credentials_missing: "mancano password e PIN"
  };

  async function loadHistory(card) {
    const res = await T.api("GET", "/api/v1/users/" + encodeURIComponent(card.user) + "/session/requests");
    if (res.status !== 200 || !Array.isArray(res.body)) return;
    const list = part(card, "history");
    list.textContent = "";
    if (!res.body.length) list.appendChild(T.el("li", "Nessuna richiesta recente.", "muted"));
    res.body.forEach(function (l) {
      list.appendChild(T.el("li", T.atTime(l.at, serverNow()) + " · " + requester(l) + " · " + (OUTCOMES[l.outcome] || l.outcome)));
    });
  }

  function historySoon(card) {
    window.clearTimeout(card.historyTimer);
    card.historyTimer = window.setTimeout(function () { loadHistory(card); }, 150);
  }

  function setExpiry(card, view) {
    const rem = view.remaining_seconds;
    card.expiresAtMs = (rem === null || rem === undefined) ? null : Date.now() + rem * 1000;
    // The server's clock, from a view that carries both ends of the countdown.
    if (view.expires_at && rem !== null && rem !== undefined && rem > 0) {
      serverOffsetMs = Date.parse(view.expires_at) - rem * 1000 - Date.now();
    }
  }

  function update(view, live) {
    const card = cards.get(view.user);
    if (!card) return;
    const before = card.view;
    if (before.state !== view.state || before.pending !== view.pending) {
      // The last message was about the previous state: it would now mislead.
      card.msg = null;
    }
    const newProblem = standingKey(view) !== standingKey(before);
    if (newProblem && standing(view)) {
      // A new problem of the session replaces whatever this card said last.
      card.msg = null;
    }
    card.view = view;
    setExpiry(card, view);
    render(card);
    const e = standing(view);
    if (live && newProblem && e && NOTIFIED.has(e.code)) notify(card, card.name + ": " + e.message);
    if (before.requested_at !== view.requested_at || before.state !== view.state ||
      before.pending !== view.pending || newProblem) {
      historySoon(card);
    }
    // A new request: Sistema TS' answer ("mail spedita") follows without a change of state.
    if (view.requested_at && before.requested_at !== view.requested_at) {
      window.setTimeout(function () { historySoon(card); }, 3000);
    }
  }

  function say(card, text, kind) {
    const e = standing(card.view);
    // The failure of this workstation's request that is also the session's problem (Sistema
    // TS does not answer): one message, told as the session's, whichever came first.
    card.msg = (kind === "bad" && e && e.message === text) ? null
      : { text: text, kind: kind, at: Date.now(), fades: kind === "ok" || kind === "info" };
    render(card);
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
        if (res.body && res.body.session) update(res.body.session, false);
        // The headline already says what comes next: the message only says what happened.
        say(card, res.body && res.body.outcome === "joined"
          ? "Una richiesta era già in corso: nessuna nuova richiesta inviata."
          : "Richiesta inviata a Sistema TS.", "ok");
        historySoon(card);
        return;
      }
      if (res.status === 409 && res.body && res.body.error && res.body.error.code === "code_active" && !replace) {
        button.disabled = false;
        if (await confirmReplace(T.errorMessage(res))) return requestCode(card, true);
        say(card, "Nessuna nuova richiesta: resta in uso il codice attuale.", "info");
        return;
      }
      say(card, T.errorMessage(res), "bad");
      historySoon(card);
    } finally {
      button.disabled = false;
    }
  }

  async function submitCode(card, input) {
    const code = input.value;
    if (!code.trim()) { say(card, "Incolla prima il codice ricevuto per mail.", "bad"); input.focus(); return; }
    const submit = card.el.querySelector('[data-testid="code-submit"]');
    submit.disabled = true;
    say(card, "Verifica del codice con Sistema TS…", "info");
    try {
      const res = await T.api("POST", "/api/v1/users/" + encodeURIComponent(card.user) + "/session/code", { code: code });
      if (res.status === 200 && res.body) {
        input.value = "";
        update(res.body, false);
        say(card, "Codice verificato: ora lo usano " + PLACE.all + ".", "ok");
      } else if (res.status === 422 && usable(card)) {
        // Refused while a good code is in use (old mail, a code already replaced): nothing is
        // wrong with the card, and the message says so.
        input.value = "";
        say(card, T.errorMessage(res), "info");
      } else {
        say(card, T.errorMessage(res), "bad");
        input.focus();
      }
    } finally {
      submit.disabled = false;
    }
  }

  async function copyCode(card) {
    const res = await T.api("GET", "/api/v1/users/" + encodeURIComponent(card.user) + "/session/code");
    if (res.status !== 200 || !res.body || !res.body.code) { say(card, T.errorMessage(res), "bad"); return; }
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
      say(card, "Codice copiato negli appunti: incollalo nel programma che lo richiede.", "ok");
    } catch (e) {
      say(card, "Il browser non ha permesso di copiare: riprova con un clic sul pulsante.", "bad");
    }
  }

  function setup(el) {
    let view;
    try { view = JSON.parse(el.dataset.view); } catch (e) { return; }
    const card = {
      el: el, user: el.dataset.user, view: view, expiresAtMs: null, rendered: false,
      msg: null, pasteOpen: false, historyTimer: 0,
      name: (el.querySelector("h2") || {}).textContent || el.dataset.user
    };
    setExpiry(card, view);
    cards.set(card.user, card);
    part(card, "request").addEventListener("click", function () { requestCode(card, false); });
    const form = part(card, "paste");
    const input = form.querySelector("textarea");
    form.addEventListener("submit", function (e) { e.preventDefault(); submitCode(card, input); });
    // Enter sends, as in a one-line field; a pasted mail keeps its line breaks.
    input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
    });
    part(card, "paste-toggle").addEventListener("click", function () {
      card.pasteOpen = true;
      render(card);
      input.focus();
    });
    const copy = part(card, "copy");
    if (copy) copy.addEventListener("click", function () { copyCode(card); });
    render(card);
    loadHistory(card);
  }

  // A call of the practice software was refused for lack of a code: say it on the card and
  // as a notification, wherever the doctor is. It is the card's message until the next one.
  function onNotice(n) {
    const card = cards.get(n.user);
    if (!card || n.kind !== "proxy_refused") return;
    card.msg = { text: "Alle " + T.clock(n.at) + ": " + n.message, kind: "alert", code: "proxy_refused", at: Date.now(), fades: false };
    render(card);
    notify(card, card.name + ": " + n.message);
  }

  function connect() {
    const source = new EventSource("/api/v1/events");
    source.addEventListener("session", function (e) {
      let view;
      try { view = JSON.parse(e.data); } catch (err) { return; /* ignore a malformed event */ }
      update(view, true);
    });
    source.addEventListener("notice", function (e) {
      let notice;
      try { notice = JSON.parse(e.data); } catch (err) { return; /* ignore a malformed event */ }
      onNotice(notice);
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

  root.querySelectorAll('[data-testid="session-card"]').forEach(setup);
  setupNotifications();
  connect();
  window.setInterval(function () { cards.forEach(render); }, 1000);
})();
