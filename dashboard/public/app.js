// The dashboard's page: routes (#/, #/failures, #/workers, #/task/ID,
// #/workflow/ID), each drawn from the JSON API with DOM calls and
// textContent only (what the database holds is never read as HTML), and
// refreshed every two seconds while it is shown.
'use strict';

const token = document.querySelector('meta[name="csrf-token"]').content;
const main = document.getElementById('main');
const statusLine = document.getElementById('status');
const noticeLine = document.getElementById('notice');
let timer = null;
let charts = [];

function el(tag, attrs = {}, ...children) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs)) {
		if (k === 'class') e.className = v;
		else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
		else e.setAttribute(k, v);
	}
	for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c ?? ''));
	return e;
}

async function getJson(url) {
	const r = await fetch(url, { headers: { Accept: 'application/json' } });
	const body = await r.json();
	if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
	return body;
}

async function act(action, id) {
	const r = await fetch(`/api/${action}`, {
		method: 'POST',
		headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': token },
		body: JSON.stringify({ id }),
	});
	const body = await r.json();
	if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
	return body.done;
}

function stateBadge(state) {
	return el('span', { class: `state state-${state}` }, state);
}

function taskLink(id) {
	return el('a', { href: `#/task/${id}` }, String(id));
}

function fmtTime(t) {
	return t ? new Date(t).toLocaleString() : '';
}

function fmtAge(seconds) {
	if (seconds === null || seconds === undefined) return '';
	if (seconds < 60) return `${seconds.toFixed(1)} s`;
	if (seconds < 3600) return `${(seconds / 60).toFixed(1)} min`;
	return `${(seconds / 3600).toFixed(1)} h`;
}

function table(headers, rows, numeric = []) {
	const head = el('tr', {}, ...headers.map((h, i) => el('th', numeric.includes(i) ? { class: 'num' } : {}, h)));
	const body = rows.map((cells) => el('tr', {},
		...cells.map((c, i) => el('td', numeric.includes(i) ? { class: 'num' } : {}, c))));
	return el('table', {}, el('thead', {}, head), el('tbody', {}, ...body));
}

function setStatus(text, isError = false) {
	statusLine.textContent = text;
	statusLine.className = isError ? 'error' : '';
}

// what an action (cancel, retry) did: stays until the next action
function setNotice(text, isError = false) {
	noticeLine.textContent = text;
	noticeLine.className = isError ? 'error' : '';
}

// ---------------------------------------------------------------- overview

const palette = ['#2f6fd0', '#2e9e5b', '#e0a800', '#7b5ea7', '#d43f3a', '#0f8a8a', '#b85c00', '#555'];

// the two plots stay from one refresh to the next: only their data change
let chartBoxes = null;
let chartQueues = '';

function chart(title, series, times, key) {
	const queues = Object.keys(series);
	const data = [times, ...queues.map((q) => series[q][key])];
	const box = el('div', { class: 'chart', 'data-chart': key });
	const opts = {
		title, width: 520, height: 200,
		scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
		series: [{}, ...queues.map((q, i) => ({ label: q, stroke: palette[i % palette.length], width: 2,
			points: { show: false } }))],
		axes: [{}, { label: 'per second' }],
	};
	charts.push(new uPlot(opts, data, box));
	return box;
}

async function overview() {
	const o = await getJson('/api/overview');
	const rows = o.queues.map((q) => [
		q.queue, q.concurrency ?? '—', `${q.workers_running} / ${q.workers_wanted}`,
		String(q.waiting), String(q.queued), String(q.due), String(q.running),
		fmtAge(q.oldest_due_s), String(q.succeeded), String(q.failed), String(q.cancelled),
	]);
	const times = o.series.times;
	const queueNames = Object.keys(o.series.queues).join(',');
	if (chartBoxes && queueNames === chartQueues && times.length >= 2 && document.body.dataset.page === 'overview') {
		const keys = ['succeeded', 'failed'];
		charts.forEach((c, i) => c.setData([times, ...Object.keys(o.series.queues).map((q) => o.series.queues[q][keys[i]])]));
	} else {
		charts.forEach((c) => c.destroy());
		charts = [];
		chartBoxes = null;
	}
	const section = [
		el('h2', {}, 'Queues'),
		table(['queue', 'concurrency', 'workers', 'waiting', 'queued', 'due', 'running', 'oldest due',
			'succeeded', 'failed', 'cancelled'], rows, [3, 4, 5, 6, 7, 8, 9, 10]),
		el('h2', {}, 'The last minutes'),
	];
	if (times.length < 2)
		section.push(el('p', { class: 'muted' }, 'Collecting: the plots start after two readings of taskq.stats.'));
	else {
		if (!chartBoxes) {
			chartBoxes = el('div', { class: 'charts' },
				chart('succeeded attempts per second', o.series.queues, times, 'succeeded'),
				chart('failed attempts per second', o.series.queues, times, 'failed'));
			chartQueues = queueNames;
		}
		section.push(chartBoxes);
	}
	main.replaceChildren(...section);
	main.querySelector('table').id = 'queues';
	setStatus(`updated ${new Date(o.time).toLocaleTimeString()}`);
}

// ---------------------------------------------------------------- failures

async function failures() {
	const f = await getJson('/api/failures');
	const rows = f.failures.map((t) => [
		taskLink(t.id), t.fn, t.queue, `${t.attempt} / ${t.max_attempts}`, t.sqlstate ?? '',
		t.error ?? '', fmtTime(t.finished_at),
		el('button', { class: 'retry', 'data-id': t.id, onclick: async (ev) => {
			ev.target.disabled = true;
			try {
				await act('retry', t.id);
				setNotice(`task ${t.id} queued again`);
				render();
			} catch (err) {
				setNotice(err.message, true);
				ev.target.disabled = false;
			}
		} }, 'retry'),
	]);
	main.replaceChildren(el('h2', {}, 'Tasks that failed for good'),
		f.failures.length ? table(['task', 'function', 'queue', 'attempts', 'SQLSTATE', 'error', 'finished', ''], rows)
			: el('p', { class: 'muted' }, 'None.'));
	const t = main.querySelector('table');
	if (t) t.id = 'failures';
	setStatus(`updated ${new Date().toLocaleTimeString()}`);
}

// ---------------------------------------------------------------- workers

async function workers() {
	const w = await getJson('/api/workers');
	const rows = w.workers.map((x) => [
		x.database ?? '', x.queue, String(x.worker), `${x.workers_running} / ${x.workers_wanted}`,
		x.pid === null ? '' : String(x.pid), x.state, x.task_id ? taskLink(x.task_id) : '',
		fmtTime(x.state_since),
	]);
	main.replaceChildren(el('h2', {}, 'Workers'),
		table(['database', 'queue', 'worker', 'running / wanted', 'pid', 'state', 'task', 'since'], rows));
	main.querySelector('table').id = 'workers';
	setStatus(`updated ${new Date().toLocaleTimeString()}`);
}

// ---------------------------------------------------------------- schedules

async function schedules() {
	const s = await getJson('/api/schedules');
	const rows = s.schedules.map((x) => [
		x.name, x.owner, x.schedule, x.time_zone, x.missed, fmtTime(x.next_run), fmtTime(x.last_run),
		String(x.runs), x.last_task ? taskLink(x.last_task) : '', x.last_error ?? '',
	]);
	main.replaceChildren(el('h2', {}, 'Schedules'),
		s.schedules.length ? table(['name', 'owner', 'schedule', 'time zone', 'missed', 'next', 'last',
			'runs', 'last task', 'last error'], rows, [7])
			: el('p', { class: 'muted' }, 'None. Make one with taskq.schedule(name, schedule, signature).'));
	const t = main.querySelector('table');
	if (t) t.id = 'schedules';
	setStatus(`updated ${new Date().toLocaleTimeString()}`);
}

// ---------------------------------------------------------------- one task

function json(value) {
	return el('pre', {}, value === null || value === undefined ? 'null' : JSON.stringify(value, null, 2));
}

async function task(id) {
	const t = await getJson(`/api/task?id=${encodeURIComponent(id)}`);
	const actions = el('p', {});
	const button = (action, label) => el('button', { class: action, onclick: async () => {
		try {
			const done = await act(action, t.id);
			setNotice(done ? `task ${t.id}: ${action} done` : `task ${t.id}: nothing to ${action}`);
			render();
		} catch (err) {
			setNotice(err.message, true);
		}
	} }, label);
	if (['waiting', 'queued', 'running'].includes(t.state)) actions.append(button('cancel', 'cancel'));
	if (['failed', 'cancelled'].includes(t.state)) actions.append(button('retry', 'retry'));
	const facts = [
		['state', stateBadge(t.state)], ['function', t.fn], ['queue', t.queue], ['owner', t.owner],
		['attempts', `${t.attempt} / ${t.max_attempts}`], ['priority', String(t.priority)],
		['enqueued', fmtTime(t.enqueued_at)], ['due', fmtTime(t.run_at)],
		['started', fmtTime(t.started_at)], ['finished', fmtTime(t.finished_at)],
		['error', t.error ? `${t.error} (${t.sqlstate})` : ''],
		['lock', t.lock_key ? `${t.lock_mode === 's' ? 'shared' : 'exclusive'}:${t.lock_key}` : ''],
		['workflow', t.workflow_id ? el('a', { href: `#/workflow/${t.workflow_id}` }, `workflow of task ${t.workflow_id}`) : ''],
	];
	const dl = el('dl', { id: 'task' });
	for (const [k, v] of facts) dl.append(el('dt', {}, k), el('dd', {}, v));
	main.replaceChildren(el('h2', {}, `Task ${t.id}`), actions, dl,
		el('h2', {}, 'Arguments'), json(t.args), el('h2', {}, 'Result'), json(t.result),
		el('h2', {}, 'Failed attempts'),
		t.attempts.length ? table(['attempt', 'SQLSTATE', 'error', 'started', 'finished', 'worker'],
			t.attempts.map((a) => [String(a.attempt), a.sqlstate ?? '', a.error ?? '', fmtTime(a.started_at),
				fmtTime(a.finished_at), a.worker_pid === null ? '' : String(a.worker_pid)]))
			: el('p', { class: 'muted' }, 'None.'));
	setStatus(`updated ${new Date().toLocaleTimeString()}`);
}

// ---------------------------------------------------------------- workflow

async function workflow(id) {
	const w = await getJson(`/api/workflow?id=${encodeURIComponent(id)}`);
	const counts = {};
	for (const t of w.tasks) counts[t.state] = (counts[t.state] || 0) + 1;
	const legend = el('p', { id: 'legend' }, `${w.tasks.length} tasks: `,
		...Object.entries(counts).flatMap(([s, n]) => [stateBadge(s), ` ${n}  `]));
	const graph = el('div', { id: 'graph' });
	main.replaceChildren(el('h2', {}, `Workflow of task ${id}`), legend, graph);
	window.drawWorkflow(graph, w.tasks, (taskId) => { location.hash = `#/task/${taskId}`; });
	setStatus(`updated ${new Date().toLocaleTimeString()}`);
}

// ---------------------------------------------------------------- routes

const routes = [
	[/^#?\/?$/, () => overview(), 'overview'],
	[/^#\/failures$/, () => failures(), 'failures'],
	[/^#\/workers$/, () => workers(), 'workers'],
	[/^#\/schedules$/, () => schedules(), 'schedules'],
	[/^#\/task\/([0-9]+)$/, (m) => task(m[1]), null],
	[/^#\/workflow\/([0-9]+)$/, (m) => workflow(m[1]), null],
];

async function render() {
	const hash = location.hash || '#/';
	for (const [re, fn, name] of routes) {
		const m = re.exec(hash);
		if (!m) continue;
		document.querySelectorAll('nav a').forEach((a) => a.classList.toggle('current', a.dataset.page === name));
		try {
			await fn(m);
			document.body.dataset.page = name || hash.split('/')[1];
		} catch (err) {
			main.replaceChildren(el('p', { class: 'error' }, err.message));
			setStatus(err.message, true);
		}
		return;
	}
	main.replaceChildren(el('p', { class: 'error' }, 'No such page.'));
}

function schedule() {
	clearInterval(timer);
	// the workflow graph is redrawn on demand only: a large one is not cheap
	if (!/^#\/workflow\//.test(location.hash)) timer = setInterval(render, 2000);
}

window.addEventListener('hashchange', () => { render(); schedule(); });

getJson('/api/overview').then((o) => {
	document.getElementById('who').textContent =
		`${o.role.name}@${o.role.database}${o.role.admin ? ' (taskq_admin)' : ''} · pg_taskq ${o.role.version}`;
}).catch((err) => setStatus(err.message, true));
render();
schedule();
