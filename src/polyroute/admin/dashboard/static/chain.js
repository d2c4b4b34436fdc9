// Fallback chain builder: drag a candidate (or a tier by its label) to reorder. Each drop
// posts the same form the keyboard buttons post (op=move / move-tier) and swaps the chain
// in; the buttons stay for keyboard and assistive-technology users.
(function () {
  "use strict";
  var dragged = null;

  function chain(el) { return el.closest(".dnd"); }

  function dropTarget(ev) {
    if (!dragged) return null;
    if (dragged.kind === "candidate") {
      var cand = ev.target.closest(".candidate");
      if (cand) return { tier: +cand.dataset.tier, index: +cand.dataset.index, el: cand };
      var tier = ev.target.closest(".tier");
      if (tier) return { tier: +tier.dataset.tier, index: 1e6, el: tier };
      return null;
    }
    var t = ev.target.closest(".tier:not(.new-tier)");
    return t ? { tier: +t.dataset.tier, index: 0, el: t } : null;
  }

  document.addEventListener("dragstart", function (ev) {
    var el = ev.target.closest && ev.target.closest("[data-drag]");
    if (!el || !chain(el)) return;
    var tier = el.closest(".tier");
    dragged = { kind: el.dataset.drag, tier: +tier.dataset.tier,
                index: el.dataset.index === undefined ? 0 : +el.dataset.index, list: chain(el) };
    ev.dataTransfer.effectAllowed = "move";
    ev.dataTransfer.setData("text/plain", el.textContent.trim());
    el.classList.add("dragging");
  });

  document.addEventListener("dragend", function (ev) {
    var el = ev.target.closest && ev.target.closest("[data-drag]");
    if (el) el.classList.remove("dragging");
    document.querySelectorAll(".drop-here").forEach(function (x) { x.classList.remove("drop-here"); });
    dragged = null;
  });

  document.addEventListener("dragover", function (ev) {
    var target = dropTarget(ev);
    if (!target || chain(target.el) !== dragged.list) return;
    ev.preventDefault();  // allows the drop
    ev.dataTransfer.dropEffect = "move";
    document.querySelectorAll(".drop-here").forEach(function (x) { x.classList.remove("drop-here"); });
    target.el.classList.add("drop-here");
  });

  document.addEventListener("drop", function (ev) {
    var target = dropTarget(ev);
    if (!target || chain(target.el) !== dragged.list) return;
    ev.preventDefault();
    var list = dragged.list;
    var values = {
      csrf: list.dataset.csrf, version: list.dataset.version,
      op: dragged.kind === "tier" ? "move-tier" : "move",
      tier: dragged.tier, index: dragged.index,
      to_tier: target.tier, to_index: Math.min(target.index, 1e6),
    };
    if (values.op === "move-tier" && values.to_tier === values.tier) return;
    if (values.op === "move" && values.to_tier === values.tier &&
        (values.to_index === values.index || values.to_index === values.index + 1)) return;
    dragged = null;
    htmx.ajax("POST", list.dataset.dragUrl, { target: "#chain", swap: "innerHTML", values: values });
  });
})();
