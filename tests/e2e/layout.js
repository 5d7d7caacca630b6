// What a person at this window size cannot use: the page wider than the window, two controls or
// texts drawn over each other, a box's content spilling out of it, a control that another element
// covers so a click lands elsewhere. Returns one sentence per problem; tests/e2e/test_layouts.py
// runs it at each size.
() => {
  const problems = [];
  const root = document.documentElement;
  if (root.scrollWidth > window.innerWidth) {
    problems.push(`the page is ${root.scrollWidth}px wide in a ${window.innerWidth}px window`);
  }

  const CHECKED = "a, button, input, select, textarea, summary, h1, h2, h3, h4, th, td, dt, dd, p, li, .badge";
  const CONTROLS = "a[href], button, input:not([type=hidden]), select, textarea, summary";
  const TOLERANCE = 1; // px: adjacent boxes share sub-pixel edges

  function name(el) {
    const text = (el.innerText || el.value || el.getAttribute("aria-label") || el.id || "").trim()
      .replace(/\s+/g, " ").slice(0, 40);
    const where = el.closest("[id]");
    return `<${el.tagName.toLowerCase()}${el.className ? "." + String(el.className).split(" ").join(".") : ""}>`
      + ` “${text}”${where && where !== el ? " in #" + where.id : ""}`;
  }

  function intersect(a, b) {
    const r = { left: Math.max(a.left, b.left), top: Math.max(a.top, b.top),
                right: Math.min(a.right, b.right), bottom: Math.min(a.bottom, b.bottom) };
    return r.right - r.left > TOLERANCE && r.bottom - r.top > TOLERANCE ? r : null;
  }

  // The part of a box its clipping ancestors let through (a table scrolled inside its wrapper shows
  // only some cells), and the layer it is painted in (an absolutely placed list over the form is meant
  // to cover it).
  function clipAndLayer(el) {
    let clip = { left: -Infinity, top: -Infinity, right: Infinity, bottom: Infinity };
    let layer = null;
    let scroller = null;
    for (let node = el.parentElement; node && node !== root; node = node.parentElement) {
      const style = getComputedStyle(node);
      if (style.overflowX !== "visible" || style.overflowY !== "visible") {
        clip = intersect(clip, node.getBoundingClientRect()) || { left: 0, top: 0, right: 0, bottom: 0 };
        if (!scroller && (node.scrollWidth > node.clientWidth || node.scrollHeight > node.clientHeight)) {
          scroller = node;
        }
      }
      if (!layer && ["absolute", "fixed", "sticky"].includes(style.position)) { layer = node; }
    }
    const own = getComputedStyle(el).position;
    if (["absolute", "fixed", "sticky"].includes(own)) { layer = el; }
    return { clip, layer, scroller };
  }

  function shown(el) {
    if (!el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) { return false; }
    const box = el.getBoundingClientRect();
    // Text kept for screen readers only (.visually-hidden) is a 1px box; the skip link waits off-screen.
    return box.width > 1 && box.height > 1 && box.right > 0 && !el.closest(".visually-hidden");
  }

  const items = [];
  for (const el of document.querySelectorAll(CHECKED)) {
    if (!shown(el)) { continue; }
    const { clip, layer, scroller } = clipAndLayer(el);
    // An inline element wrapped over two lines is two boxes, not the rectangle around both.
    const boxes = [...el.getClientRects()].map((r) => intersect(r, clip)).filter(Boolean);
    if (boxes.length) { items.push({ el, boxes, layer, scroller }); }
  }

  // Two boxes over each other, neither inside the other, painted in the same layer.
  const seen = new Set();
  for (let i = 0; i < items.length; i++) {
    for (let j = i + 1; j < items.length; j++) {
      const a = items[i], b = items[j];
      if (a.layer !== b.layer || a.el.contains(b.el) || b.el.contains(a.el)) { continue; }
      if (a.boxes.some((x) => b.boxes.some((y) => intersect(x, y)))) {
        const pair = `${name(a.el)} overlaps ${name(b.el)}`;
        if (!seen.has(pair)) { seen.add(pair); problems.push(pair); }
      }
    }
  }

  // Content spilling out of its panel (a long amount wider than its card) unless it scrolls in a wrapper.
  for (const { el, boxes, scroller } of items) {
    const panel = el.parentElement && el.parentElement.closest(".panel");
    if (!panel || scroller && panel.contains(scroller)) { continue; }
    const edge = panel.getBoundingClientRect();
    if (boxes.some((r) => r.left < edge.left - TOLERANCE || r.right > edge.right + TOLERANCE)) {
      problems.push(`${name(el)} spills out of its panel ${name(panel)}`);
    }
  }

  // A click at the middle of each control reaches it; scrolled into view first, as a person would.
  const back = [window.scrollX, window.scrollY];
  for (const { el, layer } of items) {
    if (!el.matches(CONTROLS) || layer && layer !== el && getComputedStyle(layer).position === "absolute") {
      continue;
    }
    el.scrollIntoView({ block: "center", inline: "center" });
    const box = [...el.getClientRects()].find((r) => r.width > 1 && r.height > 1);
    if (!box) { continue; }
    const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
    const label = hit && hit.closest("label");
    const forIt = label && (label.control === el || label.contains(el));
    if (hit !== el && !el.contains(hit) && !forIt) {
      problems.push(`a click on ${name(el)} lands on ${hit ? name(hit) : "nothing"}`);
    }
  }
  window.scrollTo(back[0], back[1]);
  for (const scroller of new Set(items.map((item) => item.scroller).filter(Boolean))) { scroller.scrollLeft = 0; }
  return problems;
}
