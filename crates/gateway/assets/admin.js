// Administration: users, certified mailboxes, workstations and tokens, audit.
"use strict";
(function () {
  const T = window.tsgate;
  const root = document.getElementById("admin");
  if (!root) return;
  const myWorkstation = root.dataset.workstation;
  const ROLE_WORDS = { admin: "amministrazione", doctor: "medico", staff: "segreteria" };
  const $ = function (role) { return root.querySelector('[data-role="' + role + '"]'); };
  let users = [];
  const workstationNames = new Map();
  const OUTCOMES = {
    sent: "inviata", mailed: "mail spedita", joined: "unita a una in corso", code_active: "c'era già un codice valido",
    too_soon: "troppo ravvicinata", ok: "ok", checking: "in verifica", rejected: "rifiutato", format: "formato errato",
    expired: "scaduto", revoked: "revocato", wrong_user: "di un altro utente"
  };

  function actorName(actor) {
    if (actor && actor.indexOf("ws:") === 0) {
      const id = actor.slice(3);
      const name = workstationNames.get(id);
      return name ? name + (id === myWorkstation ? " (questa)" : "") : id;
    }
    return { cli: "riga di comando", mailbox: "casella di posta", system: "tsgate" }[actor] || actor;
  }

  function say(role, text, ok) {
    const m = $(role);
    m.textContent = text;
    m.className = "msg " + (ok ? "ok" : "bad");
    T.announce(text);
  }

  function formObject(form) {
    const out = {};
    new FormData(form).forEach(function (v, k) { out[k] = typeof v === "string" ? v.trim() : v; });
    return out;
  }

  function row(cells) {
    const tr = document.createElement("tr");
    cells.forEach(function (c) {
      const td = document.createElement("td");
      if (c instanceof Node) td.appendChild(c); else td.textContent = c;
      tr.appendChild(td);
    });
    return tr;
  }

  function button(text, cls, onClick, testid) {
    const b = T.el("button", text, "btn small " + (cls || ""));
    b.type = "button";
    if (testid) b.dataset.testid = testid;
    b.addEventListener("click", onClick);
    return b;
  }

  // ------------------------------------------------------------------ users
  async function loadUsers() {
    const tbody = $("users");
    const res = await T.api("GET", "/api/v1/users?all=true");
    tbody.textContent = "";
    if (res.status !== 200 || !Array.isArray(res.body)) {
      tbody.appendChild(row([T.errorMessage(res), "", "", ""]));
      return;
    }
    users = res.body;
    if (!users.length) tbody.appendChild(row(["Nessun medico configurato.", "", "", ""]));
    users.forEach(function (u) {
      const actions = document.createElement("div");
      actions.className = "actions";
      actions.appendChild(button("Casella", "", function () { selectMailbox(u.user_id); }));
      actions.appendChild(button("Rimuovi", "danger", async function () {
        if (!window.confirm("Rimuovere il medico " + u.user_id + " da tsgate? Credenziali e codice verranno cancellati.")) return;
        const r = await T.api("DELETE", "/api/v1/users/" + encodeURIComponent(u.user_id));
        if (r.status === 204) { say("users-msg", "Medico rimosso.", true); loadUsers(); } else say("users-msg", T.errorMessage(r), false);
      }));
      tbody.appendChild(row([u.user_id, u.display_name || "", u.region + " / " + u.asl, actions]));
    });
    fillUserChoices();
  }

  function fillUserChoices() {
    const sel = $("mailbox-user");
    const current = sel.value;
    sel.textContent = "";
    users.forEach(function (u) {
      const o = T.el("option", (u.display_name ? u.display_name + " · " : "") + u.user_id);
      o.value = u.user_id;
      sel.appendChild(o);
    });
    if (current) sel.value = current;
    const auditUser = root.querySelector('[data-role="audit-filter"] select[name="user"]');
    const keep = auditUser.value;
    auditUser.querySelectorAll("option:not([value=''])").forEach(function (o) { o.remove(); });
    users.forEach(function (u) { const o = T.el("option", u.user_id); o.value = u.user_id; auditUser.appendChild(o); });
    auditUser.value = keep;
    const box = $("ws-users");
    box.textContent = "";
    users.forEach(function (u) {
      const label = document.createElement("label");
      const cb = document.createElement("input");
      cb.type = "checkbox"; cb.name = "users"; cb.value = u.user_id; cb.checked = true;
      label.appendChild(cb);
      label.appendChild(document.createTextNode(u.display_name || u.user_id));
      box.appendChild(label);
    });
    loadMailbox();
  }

  $("add-user").addEventListener("submit", async function (e) {
    e.preventDefault();
    const data = formObject(e.target);
    if (!data.display_name) delete data.display_name;
    const res = await T.api("POST", "/api/v1/users", data);
    if (res.status === 201) {
      e.target.reset();
      say("users-msg", "Medico aggiunto. Ora associalo alle postazioni e configura la sua casella.", true);
      loadUsers();
    } else say("users-msg", T.errorMessage(res), false);
  });

  // ------------------------------------------------------------------ mailbox
  function selectMailbox(user) {
    $("mailbox-user").value = user;
    loadMailbox();
    document.getElementById("casella").scrollIntoView();
  }

  function describeMailbox(status) {
    const parts = [];
    parts.push(status.configured ? "Casella configurata" : "Casella non configurata");
    if (status.configured) parts.push(status.connected ? "collegata" : "non collegata");
    if (status.last_check) parts.push("ultimo controllo " + T.fullTime(status.last_check));
    return parts.join(" · ");
  }

  async function loadMailbox() {
    const user = $("mailbox-user").value;
    const box = $("mailbox-state");
    box.textContent = "";
    if (!user) return;
    const res = await T.api("GET", "/api/v1/users/" + encodeURIComponent(user) + "/mailbox");
    if (res.status === 501) {
      box.appendChild(T.el("p", "La lettura automatica della casella non è ancora disponibile su questo server: il codice si incolla a mano dalla pagina dei codici.", "warning"));
      return;
    }
    if (res.status !== 200 || !res.body) { box.appendChild(T.el("p", T.errorMessage(res), "error")); return; }
    box.appendChild(T.el("p", describeMailbox(res.body)));
    const diags = Array.isArray(res.body.diagnostics) ? res.body.diagnostics : [];
    const ul = document.createElement("ul");
    diags.forEach(function (d) {
      const t = typeof d === "string" ? d : (d && (d.message || d.text)) || "";
      if (t) ul.appendChild(T.el("li", t));
    });
    if (ul.children.length) box.appendChild(ul);
    const form = $("mailbox-form");
    const s = res.body.settings || res.body;
    ["host", "port", "username", "security"].forEach(function (k) {
      if (s[k] !== undefined && s[k] !== null && form.elements[k]) form.elements[k].value = s[k];
    });
  }

  $("mailbox-user").addEventListener("change", loadMailbox);
  $("mailbox-form").addEventListener("submit", async function (e) {
    e.preventDefault();
    const user = $("mailbox-user").value;
    const data = formObject(e.target);
    const body = { host: data.host, username: data.username, security: data.security };
    if (data.port) body.port = Number(data.port);
    if (data.password) body.password = data.password;
    const res = await T.api("PUT", "/api/v1/users/" + encodeURIComponent(user) + "/mailbox", body);
    const box = $("mailbox-state");
    if (res.status === 200) {
      e.target.elements.password.value = "";
      box.textContent = "";
      box.appendChild(T.el("p", "Impostazioni salvate. " + describeMailbox(res.body), "msg ok"));
    } else if (res.status === 501) {
      box.textContent = "";
      box.appendChild(T.el("p", "Non salvato: la lettura automatica della casella non è ancora disponibile su questo server.", "warning"));
    } else {
      box.textContent = "";
      box.appendChild(T.el("p", T.errorMessage(res), "error"));
    }
  });

  // ------------------------------------------------------------------ workstations
  async function loadWorkstations() {
    const tbody = $("workstations");
    const res = await T.api("GET", "/api/v1/workstations");
    tbody.textContent = "";
    if (res.status !== 200 || !Array.isArray(res.body)) { tbody.appendChild(row([T.errorMessage(res), "", "", ""])); return; }
    res.body.forEach(function (w) {
      workstationNames.set(w.id, w.name);
      const tr = row([
        w.name + (w.id === myWorkstation ? " (questa)" : ""),
        ROLE_WORDS[w.role] || w.role,
        w.users.join(", ") || "nessuno",
        w.id === myWorkstation ? T.el("span", "—", "muted") : button("Revoca", "danger", function () { revoke(w); }, "ws-revoke")
      ]);
      tr.dataset.testid = "workstation-row";
      tr.dataset.name = w.name;
      tbody.appendChild(tr);
    });
  }

  function revoke(w) {
    const dialog = document.getElementById("confirm-revoke");
    dialog.querySelector('[data-role="revoke-text"]').textContent =
      "La postazione «" + w.name + "» non potrà più usare tsgate e verrà scollegata subito.";
    dialog.returnValue = "";
    dialog.addEventListener("close", async function onClose() {
      dialog.removeEventListener("close", onClose);
      if (dialog.returnValue !== "ok") return;
      const res = await T.api("DELETE", "/api/v1/workstations/" + encodeURIComponent(w.id));
      if (res.status === 204) {
        $("token-box").hidden = true;
        say("ws-msg", "Postazione «" + w.name + "» revocata.", true);
        loadWorkstations();
      }
      else say("ws-msg", T.errorMessage(res), false);
    });
    dialog.showModal();
  }

  $("add-workstation").addEventListener("submit", async function (e) {
    e.preventDefault();
    const form = e.target;
    const chosen = Array.from(form.querySelectorAll('input[name="users"]:checked')).map(function (c) { return c.value; });
    const res = await T.api("POST", "/api/v1/workstations", { name: form.elements.name.value.trim(), role: form.elements.role.value, users: chosen });
    if (res.status === 201 && res.body) {
      const box = $("token-box");
      $("new-token").textContent = res.body.token;
      $("new-login").textContent = window.location.origin + "/login?token=" + res.body.token;
      box.hidden = false;
      box.focus();
      say("ws-msg", "Postazione «" + res.body.workstation.name + "» creata: copia ora il token, non verrà più mostrato.", true);
      form.elements.name.value = "";
      loadWorkstations();
    } else say("ws-msg", T.errorMessage(res), false);
  });

  // ------------------------------------------------------------------ audit
  const KINDS = {
    requested: "richiesta", inserted: "inserito", verified: "verificato", rejected: "rifiutato",
    used: "usato", copied: "copiato", revoked: "revocato", expired: "scaduto", workstation_added: "postazione creata",
    workstation_revoked: "postazione revocata", user_added: "medico aggiunto", user_updated: "medico aggiornato",
    user_removed: "medico rimosso", credentials_changed: "password e PIN cambiati", mailbox_set: "casella impostata"
  };

  async function loadAudit() {
    const form = $("audit-filter");
    const data = formObject(form);
    const q = new URLSearchParams();
    ["user", "workstation", "kind"].forEach(function (k) { if (data[k]) q.set(k, data[k]); });
    ["from", "to"].forEach(function (k) { if (data[k]) { const d = new Date(data[k]); if (!isNaN(d)) q.set(k, d.toISOString()); } });
    if (data.limit) q.set("limit", data.limit);
    const res = await T.api("GET", "/api/v1/audit?" + q.toString());
    const tbody = $("audit");
    tbody.textContent = "";
    if (res.status !== 200 || !Array.isArray(res.body)) { tbody.appendChild(row([T.errorMessage(res), "", "", "", "", ""])); return; }
    if (!res.body.length) tbody.appendChild(row(["Nessun evento con questi filtri.", "", "", "", "", ""]));
    res.body.forEach(function (e) {
      tbody.appendChild(row([T.fullTime(e.at), KINDS[e.kind] || e.kind, e.user || "", actorName(e.actor), OUTCOMES[e.outcome] || e.outcome, e.code_hint || ""]));
    });
  }
  $("audit-filter").addEventListener("submit", function (e) { e.preventDefault(); loadAudit(); });

  loadUsers();
  loadWorkstations().then(loadAudit);
})();
