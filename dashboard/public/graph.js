// A workflow drawn as a graph: each task a circle coloured by its state, in
// layers by depth (a task sits one layer below the deepest task it waits
// for), each layer wrapped into rows and centred, so that a chord of a
// thousand members stays a compact block instead of a line a thousand
// circles long; an edge from each task to each task it waits for, except
// that a task waiting for many (a chord's body) gets one bar under their
// block and one edge from it, instead of a thousand crossing lines.  SVG,
// built with DOM calls.
'use strict';

const SVG = 'http://www.w3.org/2000/svg';
const PER_ROW = 40;	// circles in one row of a layer
const STEP = 26;	// distance between two circles
const R = 9;
const BUNDLE = 24;	// a task waiting for more than this many gets a bar

function svgEl(name, attrs) {
	const el = document.createElementNS(SVG, name);
	for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
	return el;
}

function layersOf(tasks) {
	const byId = new Map(tasks.map((t) => [t.id, t]));
	const depth = new Map();
	const visiting = new Set();
	const depthOf = (t) => {
		if (depth.has(t.id)) return depth.get(t.id);
		if (visiting.has(t.id)) return 0;	// a cycle cannot happen; never loop
		visiting.add(t.id);
		let d = 0;
		for (const p of t.depends_on || []) {
			const pt = byId.get(p);
			if (pt) d = Math.max(d, depthOf(pt) + 1);
		}
		visiting.delete(t.id);
		depth.set(t.id, d);
		return d;
	};
	const layers = [];
	for (const t of tasks) {
		const d = depthOf(t);
		(layers[d] = layers[d] || []).push(t);
	}
	return layers.filter(Boolean);
}

// Draw tasks into container; onSelect(id) when a circle is clicked.
function drawWorkflow(container, tasks, onSelect) {
	container.replaceChildren();
	const layers = layersOf(tasks);
	const pos = new Map();
	const width = R * 2 + 12 + (Math.min(PER_ROW, Math.max(...layers.map((l) => l.length))) - 1) * STEP;
	let y = R + 6;
	for (const layer of layers) {
		const rows = Math.ceil(layer.length / PER_ROW);
		layer.forEach((t, i) => {
			const row = Math.floor(i / PER_ROW);
			const inRow = Math.min(PER_ROW, layer.length - row * PER_ROW);
			const left = (width - (R * 2 + 12 + (inRow - 1) * STEP)) / 2;
			pos.set(t.id, { x: left + R + 6 + (i % PER_ROW) * STEP, y: y + row * STEP });
		});
		y += rows * STEP + STEP * 1.5;
	}
	const svg = svgEl('svg', { width, height: y, viewBox: `0 0 ${width} ${y}`, role: 'img' });
	svg.dataset.tasks = String(tasks.length);
	const edges = svgEl('g', { stroke: '#c3c8d2', 'stroke-width': 1 });
	for (const t of tasks) {
		const to = pos.get(t.id);
		const from = (t.depends_on || []).map((p) => pos.get(p)).filter(Boolean);
		if (from.length > BUNDLE) {
			const xs = from.map((f) => f.x);
			const bottom = Math.max(...from.map((f) => f.y)) + R + 5;
			edges.appendChild(svgEl('line', { x1: Math.min(...xs), y1: bottom, x2: Math.max(...xs), y2: bottom,
				'stroke-width': 3 }));
			edges.appendChild(svgEl('line', { x1: to.x, y1: bottom, x2: to.x, y2: to.y }));
			continue;
		}
		for (const f of from) edges.appendChild(svgEl('line', { x1: f.x, y1: f.y, x2: to.x, y2: to.y }));
	}
	svg.appendChild(edges);
	const colors = { succeeded: '#2e9e5b', failed: '#d43f3a', running: '#2f6fd0',
		queued: '#e0a800', waiting: '#a0a7b4', cancelled: '#7b5ea7' };
	for (const t of tasks) {
		const p = pos.get(t.id);
		const c = svgEl('circle', { cx: p.x, cy: p.y, r: R, fill: colors[t.state] || '#888',
			class: `node state-node-${t.state}` });
		c.dataset.id = t.id;
		const title = svgEl('title', {});
		title.textContent = `task ${t.id}: ${t.fn} (${t.state})`;
		c.appendChild(title);
		c.addEventListener('click', () => onSelect(t.id));
		svg.appendChild(c);
	}
	container.appendChild(svg);
}

window.drawWorkflow = drawWorkflow;
