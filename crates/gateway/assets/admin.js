// Administration: users, certified mailboxes, working hours, workstations and tokens, audit.
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
    return { cli: "riga di comando", mailbox: "casella di posta", system: "tsgate", auto: "rinnovo automatico" }[actor] || actor;
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
  // One page at a time (a vendor's practice may have 100,000 doctors): a search narrows the
  // list on the server, "Mostra altri medici" appends the next page.
  let usersNext = null;
  let usersSearch = "";

  async function loadUsers(more) {
    const tbody = $("users");
    let path = "/api/v1/users?all=true&limit=200";
    if (usersSearch) path += "&search=" + encodeURIComponent(usersSearch);
    if (more && usersNext) path += "&after=" + encodeURIComponent(usersNext);
    const res = await T.api("GET", path);
    if (!more) { tbody.textContent = ""; users = []; }
    if (res.status !== 200 || !Array.isArray(res.body)) {
      tbody.appendChild(row([T.errorMessage(res), "", "", ""]));
      return;
    }
    users = users.concat(res.body);
    usersNext = res.next;
    $("users-more").hidden = !usersNext;
    if (!users.length) tbody.appendChild(row([usersSearch ? "Nessun medico trovato." : "Nessun medico configurato.", "", "", ""]));
    res.body.forEach(function (u) {
      const actions = document.createElement("div");
      actions.className = "actions";
      actions.appendChild(button("Modifica", "", function () { openEdit(u); }, "user-edit"));
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

  $("users-search").addEventListener("submit", function (e) {
    e.preventDefault();
    usersSearch = e.target.elements.search.value.trim();
    loadUsers(false);
  });
  $("users-more").addEventListener("click", function () { loadUsers(true); });

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
    const scheduleUser = $("schedule-user");
    const chosen = scheduleUser.value;
    scheduleUser.textContent = "";
    users.forEach(function (u) {
      const o = T.el("option", (u.display_name ? u.display_name + " · " : "") + u.user_id);
      o.value = u.user_id;
      scheduleUser.appendChild(o);
    });
    if (chosen) scheduleUser.value = chosen;
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
    loadSchedule();
  }

  $("add-user").addEventListener("submit", async function (e) {
    e.preventDefault();
    const data = formObject(e.target);
    if (!data.display_name) delete data.display_name;
    if (!data.ssa) delete data.ssa;
    const res = await T.api("POST", "/api/v1/users", data);
    if (res.status === 201) {
      e.target.reset();
      say("users-msg", "Medico aggiunto. Ora associalo alle postazioni (pulsante «Medici» nell'elenco delle postazioni) e configura la sua casella.", true);
      loadUsers();
    } else say("users-msg", T.errorMessage(res), false);
  });

  // A doctor's data and credentials: one box under the list, filled from the row.
  let editing = null;
  function openEdit(u) {
    editing = u.user_id;
    const box = $("edit-user-box");
    const form = $("edit-user");
    $("edit-user-title").textContent = "Modifica " + (u.display_name ? u.display_name + " · " : "") + u.user_id;
    form.elements.display_name.value = u.display_name || "";
    form.elements.cf.value = u.cf || "";
    form.elements.region.value = u.region || "";
    form.elements.asl.value = u.asl || "";
    form.elements.ssa.value = u.ssa || "";
    form.elements.specialization.value = u.specialization || "";
    form.elements.environment.value = u.environment || "test";
    form.elements.password_changed_on.value = u.password_changed_on || "";
    $("credentials").reset();
    $("edit-msg").textContent = "";
    box.hidden = false;
    box.focus();
  }

  $("edit-close").addEventListener("click", function () { $("edit-user-box").hidden = true; editing = null; });

  $("edit-user").addEventListener("submit", async function (e) {
    e.preventDefault();
    if (!editing) return;
    const res = await T.api("PUT", "/api/v1/users/" + encodeURIComponent(editing), formObject(e.target));
    if (res.status === 200) {
      say("edit-msg", "Dati del medico salvati.", true);
      loadUsers();
    } else say("edit-msg", T.errorMessage(res), false);
  });

  $("credentials").addEventListener("submit", async function (e) {
    e.preventDefault();
    if (!editing) return;
    const data = formObject(e.target);
    if (!data.password_changed_on) delete data.password_changed_on;
    const res = await T.api("PUT", "/api/v1/users/" + encodeURIComponent(editing) + "/credentials", data);
    if (res.status === 204) {
      e.target.reset();
      say("edit-msg", "Password e PIN sostituiti: sono conservati cifrati e non verranno più mostrati.", true);
    } else say("edit-msg", T.errorMessage(res), false);
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

  // ------------------------------------------------------------------ working hours
  // One editor (week in the compact form, holidays, closures) for the practice and for a
  // doctor's own hours. A closure added or removed is saved at once with the rest of the form.
  function hoursEditor(container, save) {
    const node = root.querySelector('[data-role="hours-editor"]').content.firstElementChild.cloneNode(true);
    container.appendChild(node);
    const field = function (name) { return node.querySelector('[name="' + name + '"]'); };
    const part = function (name) { return node.querySelector('[data-part="' + name + '"]'); };
    let closures = [];
    let disabled = false;

    function drawClosures() {
      const tbody = part("closures");
      tbody.textContent = "";
      if (!closures.length) tbody.appendChild(row(["Nessuna chiusura.", "", "", ""]));
      closures.forEach(function (c, i) {
        const remove = disabled ? T.el("span", "") : button("Rimuovi", "", async function () {
          const removed = closures.splice(i, 1);
          if (!(await save())) { closures.splice(i, 0, removed[0]); drawClosures(); }
        }, "closure-remove");
        const tr = row([italianDate(c.from), italianDate(c.to || c.from), c.note || "", remove]);
        tr.dataset.testid = "closure-row";
        tbody.appendChild(tr);
      });
    }

    part("closure-add-button").addEventListener("click", function () {
      const from = field("closure_from").value;
      const to = field("closure_to").value;
      const note = field("closure_note").value.trim();
      const c = { from: from };
      if (to) c.to = to;
      if (note) c.note = note;
      closures.push(c);
      save().then(function (ok) {
        if (ok) ["closure_from", "closure_to", "closure_note"].forEach(function (n) { field(n).value = ""; });
        else { closures.pop(); drawClosures(); }
      });
    });

    return {
      node: node,
      /** Shows `view` (an HoursView of the API). */
      show: function (view) {
        field("week").value = view.text || "";
        field("public_holidays").checked = view.hours.public_holidays !== false;
        closures = (view.hours.closures || []).map(function (c) { return Object.assign({}, c); });
        drawClosures();
      },
      /** The body for the API (HoursSpec). */
      spec: function () {
        return { week: field("week").value.trim(), public_holidays: field("public_holidays").checked, closures: closures.slice() };
      },
      /** Read-only (hours set in the configuration file). */
      setDisabled: function (value) {
        disabled = value;
        node.querySelectorAll("input, button").forEach(function (e) { e.disabled = value; });
        part("closure-add").hidden = value;
        drawClosures();
      }
    };
  }

  /** "2026-12-24" as "24/12/2026". */
  function italianDate(iso) {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || "");
    return m ? m[3] + "/" + m[2] + "/" + m[1] : (iso || "");
  }

  const practiceForm = $("practice-form");
  const practice = hoursEditor($("practice-editor"), savePractice);

  async function loadPractice() {
    const res = await T.api("GET", "/api/v1/practice/hours");
    const source = $("practice-source");
    if (res.status === 501) {
      source.textContent = "Orari di lavoro e richieste automatiche non disponibili su questo server.";
      practiceForm.hidden = true;
      return null;
    }
    if (res.status !== 200 || !res.body) { source.textContent = T.errorMessage(res); return null; }
    showPractice(res.body);
    return res.body;
  }

  function showPractice(view) {
    practice.show(view);
    practice.setDisabled(view.read_only);
    $("practice-save").hidden = view.read_only;
    $("practice-source").textContent = view.read_only
      ? "Impostati nel file di configurazione di tsgate (sezione [working_hours]): qui si possono solo vedere. Si cambiano nel file e valgono al riavvio."
      : (view.source === "built_in"
        ? "Orari predefiniti di tsgate (lunedì-venerdì 08:00-19:30, chiuso nei festivi): impostali per il tuo studio."
        : "Valgono per ogni medico che non ha orari propri.");
  }

  async function savePractice() {
    const res = await T.api("PUT", "/api/v1/practice/hours", practice.spec());
    if (res.status === 200) {
      say("practice-msg", "Orari dello studio salvati: " + res.body.summary + ".", true);
      showPractice(res.body);
      loadSchedule();
      return true;
    }
    say("practice-msg", T.errorMessage(res), false);
    if (res.status !== 422) loadPractice();
    return false;
  }

  practiceForm.addEventListener("submit", function (e) { e.preventDefault(); savePractice(); });

  const scheduleForm = $("schedule-form");
  const own = hoursEditor($("user-editor"), saveSchedule);
  let scheduleView = null;

  function showOwnChoice() {
    const mine = scheduleForm.elements.own.value === "own";
    own.node.hidden = !mine;
    const follows = $("schedule-follows");
    follows.textContent = mine || !scheduleView ? "" :
      "Segue gli orari dello studio: " + scheduleView.effective.summary + ".";
  }

  function describeSchedule(view) {
    const parts = [];
    parts.push(view.auto_enabled ? "Richieste automatiche attive." : (view.auto_reason || "Richieste automatiche non attive."));
    if (view.next && view.next.next) parts.push(view.next.next + ".");
    else if (view.next && view.next.reason && view.auto_enabled) parts.push(view.next.reason);
    return parts.join(" ");
  }

  function showSchedule(view) {
    scheduleView = view;
    scheduleForm.elements.auto.value = view.auto;
    scheduleForm.elements.own.value = view.hours ? "own" : "practice";
    // Own hours start from the ones the doctor follows now.
    own.show(view.effective);
    $("schedule-state").textContent = describeSchedule(view);
    showOwnChoice();
  }

  async function loadSchedule() {
    const user = $("schedule-user").value;
    if (!user) { scheduleForm.hidden = true; return; }
    const res = await T.api("GET", "/api/v1/users/" + encodeURIComponent(user) + "/schedule");
    if (res.status === 501) { scheduleForm.hidden = true; $("schedule-state").textContent = ""; return; }
    scheduleForm.hidden = false;
    if (res.status !== 200 || !res.body) { $("schedule-state").textContent = T.errorMessage(res); return; }
    showSchedule(res.body);
  }

  async function saveSchedule() {
    const user = $("schedule-user").value;
    const body = { auto: scheduleForm.elements.auto.value || "default" };
    body.hours = scheduleForm.elements.own.value === "own" ? own.spec() : null;
    const res = await T.api("PUT", "/api/v1/users/" + encodeURIComponent(user) + "/schedule", body);
    if (res.status === 200) {
      showSchedule(res.body);
      say("schedule-msg", "Salvato. " + describeSchedule(res.body), true);
      return true;
    }
    say("schedule-msg", T.errorMessage(res), false);
    if (res.status !== 422) loadSchedule();
    return false;
  }

  scheduleForm.addEventListener("submit", function (e) { e.preventDefault(); saveSchedule(); });
  scheduleForm.querySelectorAll('input[name="own"]').forEach(function (r) { r.addEventListener("change", showOwnChoice); });
  $("schedule-user").addEventListener("change", function () { $("schedule-msg").textContent = ""; loadSchedule(); });

  // ------------------------------------------------------------------ workstations
  async function loadWorkstations() {
    const tbody = $("workstations");
    const res = await T.api("GET", "/api/v1/workstations");
    tbody.textContent = "";
    if (res.status !== 200 || !Array.isArray(res.body)) { tbody.appendChild(row([T.errorMessage(res), "", "", ""])); return; }
    const auditWs = $("audit-workstation");
    const keep = auditWs.value;
    auditWs.querySelectorAll("option:not([value=''])").forEach(function (o) { o.remove(); });
    res.body.forEach(function (w) {
      workstationNames.set(w.id, w.name);
      const o = T.el("option", w.name);
      o.value = w.id;
      auditWs.appendChild(o);
      const lists = ["doctor", "staff", "admin"].indexOf(w.role) >= 0;
      const doctors = document.createElement("div");
      if (lists && !w.users.length) {
        doctors.appendChild(T.el("span", "Nessun medico: questa postazione non può fare nulla. Scegli i medici con «Medici».", "warning"));
        doctors.dataset.testid = "ws-no-doctor";
      } else doctors.textContent = lists ? w.users.join(", ") : "tutti quelli dello studio";
      const actions = document.createElement("div");
      actions.className = "actions";
      if (lists) actions.appendChild(button("Medici", "", function () { editDoctors(w, tr); }, "ws-doctors"));
      if (w.id !== myWorkstation) actions.appendChild(button("Revoca", "danger", function () { revoke(w); }, "ws-revoke"));
      const tr = row([
        w.name + (w.id === myWorkstation ? " (questa)" : ""),
        ROLE_WORDS[w.role] || w.role,
        doctors,
        actions
      ]);
      tr.dataset.testid = "workstation-row";
      tr.dataset.name = w.name;
      tbody.appendChild(tr);
    });
    auditWs.value = keep;
  }

  // The doctors a workstation acts for: checkboxes in place of the list, saved at once.
  function editDoctors(w, tr) {
    const cell = tr.children[2];
    cell.textContent = "";
    const form = document.createElement("form");
    form.className = "ws-doctors";
    form.dataset.testid = "ws-doctors-form";
    users.forEach(function (u) {
      const label = document.createElement("label");
      const cb = document.createElement("input");
      cb.type = "checkbox"; cb.value = u.user_id; cb.checked = w.users.indexOf(u.user_id) >= 0;
      label.appendChild(cb);
      label.appendChild(document.createTextNode(" " + (u.display_name || u.user_id)));
      form.appendChild(label);
    });
    const save = T.el("button", "Salva", "btn small primary");
    save.type = "submit";
    save.dataset.testid = "ws-doctors-save";
    form.appendChild(save);
    form.addEventListener("submit", async function (e) {
      e.preventDefault();
      const chosen = Array.from(form.querySelectorAll("input:checked")).map(function (c) { return c.value; });
      const res = await T.api("PUT", "/api/v1/workstations/" + encodeURIComponent(w.id) + "/users", { users: chosen });
      if (res.status === 200) {
        say("ws-msg", "Medici della postazione «" + w.name + "» salvati.", true);
        loadWorkstations();
      } else say("ws-msg", T.errorMessage(res), false);
    });
    cell.appendChild(form);
  }

  async function copyText(text, what) {
    try {
      await navigator.clipboard.writeText(text);
      say("ws-msg", what + " copiato.", true);
    } catch (e) {
      say("ws-msg", "Copia non riuscita: selezionalo e copialo a mano.", false);
    }
  }
  $("copy-login").addEventListener("click", function () { copyText($("new-login").textContent, "Indirizzo di accesso"); });
  $("copy-token").addEventListener("click", function () { copyText($("new-token").textContent, "Token"); });

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
      $("new-login").textContent = res.body.login_url || (window.location.origin + "/login?token=" + res.body.token);
      const qr = $("new-qr-box");
      if (res.body.login_qr_svg) {
        $("new-qr").src = "data:image/svg+xml;base64," + btoa(res.body.login_qr_svg);
        qr.hidden = false;
      } else qr.hidden = true;
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
    workstation_revoked: "postazione revocata", workstation_users_set: "medici della postazione cambiati", user_added: "medico aggiunto", user_updated: "medico aggiornato",
    user_removed: "medico rimosso", credentials_changed: "password e PIN cambiati", mailbox_set: "casella impostata",
    practice_hours_set: "orari dello studio", schedule_set: "orari e automatiche del medico",
    practice_set: "studio creato o rinominato", member_added: "medico aggiunto allo studio",
    member_removed: "medico tolto dallo studio", imported: "importazione",
    support_bundle: "pacchetto di supporto scaricato"
  };

  // "workstation <id> (admin)" as "postazione «Reception» (amministrazione)".
  function outcomeText(outcome) {
    if (OUTCOMES[outcome]) return OUTCOMES[outcome];
    const m = /^workstation ([^\s:]+)(:| \((\w+)\))?(.*)$/.exec(outcome || "");
    if (!m) return outcome;
    const name = workstationNames.get(m[1]);
    const role = m[3] ? " (" + (ROLE_WORDS[m[3]] || m[3]) + ")" : (m[2] === ":" ? ":" : "");
    return "postazione " + (name ? "«" + name + "»" : m[1]) + role + m[4];
  }

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
      tbody.appendChild(row([T.fullTime(e.at), KINDS[e.kind] || e.kind, e.user || "", actorName(e.actor), outcomeText(e.outcome), e.code_hint || ""]));
    });
  }
  $("audit-filter").addEventListener("submit", function (e) { e.preventDefault(); loadAudit(); });

  loadPractice();
  loadUsers();
  loadWorkstations().then(loadAudit);
})();
