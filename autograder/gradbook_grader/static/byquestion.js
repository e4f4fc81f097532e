// Grade by question: the page of `gradbook-grader grade-by-question` (autograder/gradbook_grader/byquestion.py).
// Student text is untrusted: it only ever reaches the page through textContent (see `el`), never as HTML.
"use strict";

const state = {
  overview: null,   // {assignment, questions: [{id, points, graded, total}]}
  view: null,       // the current question (byquestion.Grading.view)
  group: 0,         // index of the current group
  target: -1,       // -1: the whole group; else one answer (index into members(group))
  draft: { rubric: [], score: "", comment: "", typed: false },
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

function say(text, error = false) {
  const box = $("message");
  box.textContent = text;
  box.className = error ? "error" : "";
}

const members = (g) => g.variants.flatMap((v) => v.answers);
const fmt = (x) => (x === null || x === undefined || x === "" ? "–" : String(Math.round(Number(x) * 100) / 100));

function targets() {
  const all = members(state.view.groups[state.group]);
  return state.target < 0 ? all : [all[state.target]];
}

function rubricItems() { return state.view.rubric; }

// --- loading -------------------------------------------------------------------------------------------

async function loadQuestion(id) {
  say("loading…");
  state.overview = await api("api/questions");
  const known = state.overview.questions.map((q) => q.id);
  if (!known.includes(id)) id = known[0];
  if (location.hash !== `#${id}`) history.replaceState(null, "", `#${id}`);
  state.view = await api(`api/question?id=${encodeURIComponent(id)}`);
  state.group = firstToGrade(0);
  state.target = -1;
  renderAll();
  say("");
}

function firstToGrade(from) {
  const groups = state.view.groups;
  for (let k = 0; k < groups.length; k++) {
    const n = (from + k) % groups.length;
    if (members(groups[n]).some((a) => !a.graded)) return n;
  }
  return Math.min(from, Math.max(groups.length - 1, 0));
}

// --- rendering -----------------------------------------------------------------------------------------

function renderAll() {
  const v = state.view;
  $("title").textContent = `${v.assignment}: grade by question`;
  const nav = $("questions");
  nav.replaceChildren(...state.overview.questions.map((q) => el("button", {
    type: "button", class: q.id === v.question.id ? "on" : "", onclick: () => { location.hash = q.id; },
  }, q.id)));
  $("prompt").textContent = v.question.prompt;
  $("model").textContent = v.question.model;
  $("max").textContent = `/ ${fmt(v.question.points)}`;
  const missing = $("missing");
  missing.hidden = v.missing.length === 0;
  missing.textContent = `${v.missing.length} submission(s) have no graded notebook to read (grading failed; see ` +
    `gradbook-grader report): ${v.missing.join(", ")}`;
  $("groups").replaceChildren(...v.groups.map((_, n) => renderGroup(n)));
  renderRubric();
  renderProgress();
  select(state.group, -1, false);
}

function renderProgress() {
  const all = state.view.groups.flatMap(members);
  const graded = all.filter((a) => a.graded).length;
  const groupsDone = state.view.groups.filter((g) => members(g).every((a) => a.graded)).length;
  $("progress").textContent = `${state.view.question.id}: ${graded} / ${all.length} answers graded · ` +
    `${groupsDone} / ${state.view.groups.length} groups`;
}

const KINDS = { blank: "no answer", same: "identical", similar: "near-identical", unique: "one answer" };

function renderGroup(n) {
  const g = state.view.groups[n];
  const answers = members(g);
  const graded = answers.filter((a) => a.graded);
  const scores = [...new Set(graded.map((a) => fmt(a.score)))];
  const head = `Group ${n + 1} of ${state.view.groups.length} · ${answers.length} answer${answers.length === 1 ? "" : "s"} · ` +
    `${KINDS[g.kind]} · graded ${graded.length}/${answers.length}` + (scores.length ? ` · score ${scores.join(", ")}` : "");
  let index = 0;
  const card = el("div", { class: "group", id: `group-${n}`, "data-kind": g.kind },
    el("h3", {}, head),
    ...g.variants.map((variant) => {
      const text = el("div", { class: "text answer" });
      if (variant.diff) {
        for (const [piece, how] of variant.diff) {
          text.append(how ? el("span", { class: how === "+" ? "added" : "removed" }, piece) : document.createTextNode(piece));
        }
      } else {
        text.textContent = variant.text === "" ? "(empty)" : variant.text;
      }
      const chips = variant.answers.map((a) => {
        const me = index++;
        const title = a.graded ? `${fmt(a.score)}: ${a.comment}` : "not graded yet";
        return el("span", {
          class: "student" + (a.graded ? " graded" : "") + (n === state.group && me === state.target ? " target" : ""),
          title, "data-student": a.student, onclick: () => select(n, me),
        }, `${a.student} ${a.graded ? fmt(a.score) : ""}`);
      });
      return el("div", { class: "variant" }, text, el("div", { class: "students" }, ...chips));
    }));
  if (answers.every((a) => a.graded)) card.classList.add("done");
  if (n === state.group) card.classList.add("current");
  card.addEventListener("click", (e) => { if (!e.target.closest(".student")) select(n, -1); });
  return card;
}

function refreshGroup(n) {
  const old = $(`group-${n}`);
  if (old) old.replaceWith(renderGroup(n));
}

function renderRubric() {
  const items = rubricItems();
  $("rubric").replaceChildren(...items.map((item, k) => el("li", {
    class: state.draft.rubric.includes(item.id) ? "on" : "", "data-id": item.id,
    onclick: (e) => { if (e.target.tagName !== "BUTTON") toggle(k); },
    title: k < 9 ? `key ${k + 1}` : "",
  }, `${item.text} (${item.points >= 0 ? "+" : ""}${fmt(item.points)})`,
  el("button", { type: "button", title: "remove from the rubric", onclick: () => removeItem(item.id) }, "×"))));
}

function renderDraft() {
  renderRubric();
  $("score").value = state.draft.score;
  $("comment").value = state.draft.comment;
  const all = members(state.view.groups[state.group] || { variants: [] });
  const who = state.target < 0 ? `the whole group (${all.length} answer${all.length === 1 ? "" : "s"})` : all[state.target].student;
  const again = targets().filter((a) => a.graded).length;
  $("target").textContent = `Scoring ${who}` + (again ? ` — ${again} already graded: saving replaces their score` : "");
}

// --- selection and the draft ---------------------------------------------------------------------------

function select(n, target = -1, scroll = true) {
  const groups = state.view.groups;
  if (!groups.length) { $("target").textContent = "No answers yet: grade the submissions first."; return; }
  const before = state.group;
  state.group = Math.max(0, Math.min(n, groups.length - 1));
  state.target = target;
  refreshGroup(before);
  if (before !== state.group) refreshGroup(state.group);
  state.draft = draftFrom(targets());
  renderDraft();
  if (scroll) {
    const chip = document.querySelector(`#group-${state.group} .student.target`);
    (chip || $(`group-${state.group}`)).scrollIntoView({ block: "nearest" });
  }
}

function draftFrom(answers) {
  // What the answers hold now, if they all hold the same; else a clean slate (0 for no answer).
  const first = answers[0];
  const same = answers.every((a) => a.graded === first.graded && a.score === first.score && a.comment === first.comment);
  if (same && first.graded) {
    // The score follows the items from here on if it is what its items give (else it was typed by hand).
    const typed = !first.rubric.length || fromItems(first.rubric) !== first.score;
    return { rubric: [...first.rubric], score: first.score ?? "", comment: first.free, typed };
  }
  const blank = answers.every((a) => a.blank);
  return { rubric: [], score: blank ? 0 : "", comment: "", typed: blank };
}

function toggle(k) {
  const item = rubricItems()[k];
  if (!item) return;
  const chosen = state.draft.rubric;
  state.draft.rubric = chosen.includes(item.id) ? chosen.filter((i) => i !== item.id) : [...chosen, item.id];
  if (!state.draft.typed) state.draft.score = fromItems(state.draft.rubric);
  renderDraft();
}

function fromItems(ids) {
  // The score the rubric items give: their points summed, clamped to 0 … the question's points ("" for none).
  const picked = rubricItems().filter((i) => ids.includes(i.id));
  const sum = picked.reduce((s, i) => s + i.points, 0);
  return picked.length ? Math.min(state.view.question.points, Math.max(0, sum)) : "";
}

// --- saving --------------------------------------------------------------------------------------------

let saving = false;

async function save() {
  if (saving) return;
  const text = String($("score").value).trim();
  const score = Number(text);
  if (text === "" || !Number.isFinite(score)) { say("type a score first (s), or apply a rubric item (1-9)", true); return; }
  const answers = targets();
  const seen = Object.fromEntries(answers.map((a) => [a.student, a.digest]));
  saving = true;
  try {
    const done = await api("api/grade", {
      question: state.view.question.id, answers: seen, score, rubric: state.draft.rubric, comment: $("comment").value });
    const saved = new Set(done.saved);
    for (const a of answers) {
      if (!saved.has(a.student)) continue;
      Object.assign(a, { graded: true, score, comment: done.comment, rubric: [...state.draft.rubric], free: $("comment").value.trim() });
    }
    renderProgress();
    const msg = `saved ${done.saved.length} answer${done.saved.length === 1 ? "" : "s"}: ${fmt(score)}`;
    if (done.stale.length) {
      say(`${msg}. Not saved, changed since this page loaded (a resubmission graded meanwhile): ` +
        `${done.stale.join(", ")}. Reload the question (its answers are read again).`, true);
      refreshGroup(state.group);
      return;
    }
    say(msg);
    advance();
  } catch (error) {
    say(`not saved: ${error.message}`, true);
  } finally {
    saving = false;
    // Saves finished so far (the page has moved on after each): what a script driving the page waits for.
    document.body.dataset.saves = String(Number(document.body.dataset.saves || 0) + 1);
  }
}

function advance() {
  const all = members(state.view.groups[state.group]);
  if (state.target >= 0) {
    const next = all.findIndex((a, k) => k > state.target && !a.graded);
    if (next >= 0) { select(state.group, next); return; }
  }
  refreshGroup(state.group);
  select(firstToGrade(state.group + 1), -1);
}

async function setRubric(items) {
  try {
    const done = await api("api/rubric", { question: state.view.question.id, items });
    state.view.rubric = done.rubric;
    state.draft.rubric = state.draft.rubric.filter((id) => done.rubric.some((i) => i.id === id));
    renderDraft();
  } catch (error) {
    say(`rubric not saved: ${error.message}`, true);
  }
}

function removeItem(id) { setRubric(rubricItems().filter((i) => i.id !== id)); }

// --- keys ----------------------------------------------------------------------------------------------

function moveQuestion(step) {
  const ids = state.overview.questions.map((q) => q.id);
  const at = ids.indexOf(state.view.question.id);
  location.hash = ids[(at + step + ids.length) % ids.length];
}

function onKey(e) {
  const help = $("help");
  const field = e.target.closest ? e.target.closest("input, textarea") : null;
  if (e.key === "Escape") {
    help.hidden = true;
    if (field) field.blur();
    return;
  }
  if (field) {
    if (field.id === "score" && e.key === "Enter") { e.preventDefault(); field.blur(); save(); }
    if (field.id === "comment" && e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); field.blur(); save(); }
    return;  // typing: no shortcuts
  }
  if (e.ctrlKey || e.metaKey || e.altKey || !state.view) return;
  const all = state.view.groups.length ? members(state.view.groups[state.group]) : [];
  const actions = {
    j: () => select(state.group + 1), ArrowDown: () => select(state.group + 1),
    k: () => select(state.group - 1), ArrowUp: () => select(state.group - 1),
    n: () => select(state.group, Math.min(state.target + 1, all.length - 1)),
    p: () => select(state.group, Math.max(state.target - 1, -1)),
    g: () => select(state.group, -1),
    s: () => $("score").focus(),
    c: () => $("comment").focus(),
    r: () => $("item-text").focus(),
    Enter: () => save(),
    "[": () => moveQuestion(-1), "]": () => moveQuestion(1),
    "?": () => { help.hidden = !help.hidden; },
  };
  if (/^[1-9]$/.test(e.key)) { e.preventDefault(); toggle(Number(e.key) - 1); return; }
  if (actions[e.key]) { e.preventDefault(); actions[e.key](); }
}

function start() {
  document.addEventListener("keydown", onKey);
  $("help-button").addEventListener("click", () => { $("help").hidden = !$("help").hidden; });
  $("save").addEventListener("click", save);
  $("score").addEventListener("input", () => { state.draft.score = $("score").value; state.draft.typed = true; });
  $("comment").addEventListener("input", () => { state.draft.comment = $("comment").value; });
  $("add-item").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("item-text").value.trim();
    const points = Number($("item-points").value || 0);
    if (!text || !Number.isFinite(points)) { say("a rubric item needs a text and a number of points", true); return; }
    $("item-text").value = "";
    $("item-points").value = "0";
    $("item-text").blur();
    $("item-points").blur();
    setRubric([...rubricItems(), { text, points }]);
  });
  window.addEventListener("hashchange", () => loadQuestion(location.hash.slice(1)).catch((e) => say(e.message, true)));
  loadQuestion(decodeURIComponent(location.hash.slice(1))).catch((e) => say(`cannot load: ${e.message}`, true));
}

document.addEventListener("DOMContentLoaded", start);
