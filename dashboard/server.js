// pg_taskq's dashboard: a small HTTP server that serves the page (public/)
// and a JSON API over the views of pg_taskq, connected as one database role.
//
//   node dashboard/server.js --dsn 'postgresql://role@host:port/db' [--listen 127.0.0.1:8480]
//
// What it shows is what that role may see: row-level security filters the
// tasks, taskq.stats and taskq.workers filter by the role's privileges.
// Every statement is parameterized: nothing from a request is spliced into
// SQL.  Cancel and retry are POSTs that carry the page's token (a page of
// another site cannot read it) from an Origin that is the dashboard's own,
// and the Host header must name the dashboard (no DNS rebinding).
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

import * as q from './queries.js';
import { Sampler } from './sampler.js';

const here = path.dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
	const opt = { listen: '127.0.0.1:8480', dsn: process.env.TASKQ_DASHBOARD_DSN || '' };
	for (let i = 2; i < argv.length; i++) {
		const a = argv[i];
		if (a === '--dsn') opt.dsn = argv[++i];
		else if (a === '--listen') opt.listen = argv[++i];
		else if (a === '--help') {
			console.log('usage: node server.js --dsn CONNINFO [--listen HOST:PORT]');
			process.exit(0);
		} else {
			console.error(`unknown argument ${a} (try --help)`);
			process.exit(2);
		}
	}
	const m = /^(.*):(\d+)$/.exec(opt.listen);
	if (!m) {
		console.error(`--listen wants HOST:PORT, not ${opt.listen}`);
		process.exit(2);
	}
	opt.host = m[1];
	opt.port = Number(m[2]);
	return opt;
}

const opt = parseArgs(process.argv);
const pool = new pg.Pool({ connectionString: opt.dsn || undefined, max: 4,
	application_name: 'taskq dashboard' });
const token = randomBytes(32).toString('hex');
const sampler = new Sampler(pool);

// the static files of the page, and the vendored libraries it uses
const staticFiles = {
	'/app.js': [path.join(here, 'public/app.js'), 'text/javascript'],
	'/graph.js': [path.join(here, 'public/graph.js'), 'text/javascript'],
	'/style.css': [path.join(here, 'public/style.css'), 'text/css'],
	'/vendor/uPlot.iife.min.js': [path.join(here, 'node_modules/uplot/dist/uPlot.iife.min.js'), 'text/javascript'],
	'/vendor/uPlot.min.css': [path.join(here, 'node_modules/uplot/dist/uPlot.min.css'), 'text/css'],
};

const securityHeaders = {
	'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'",
	'X-Content-Type-Options': 'nosniff',
	'Referrer-Policy': 'no-referrer',
	'Cache-Control': 'no-store',
};

function send(res, status, type, body) {
	res.writeHead(status, { 'Content-Type': type, ...securityHeaders });
	res.end(body);
}

function sendJson(res, status, value) {
	send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
}

// an id from a request: digits only, or null
function idOf(value) {
	return typeof value === 'string' && /^[0-9]{1,18}$/.test(value) ? value : null;
}

function hostAllowed(req) {
	const allowed = new Set([`${opt.host}:${opt.port}`, `localhost:${opt.port}`, `127.0.0.1:${opt.port}`]);
	return allowed.has(req.headers.host || '');
}

function sameOrigin(req) {
	const origin = req.headers.origin;
	return origin !== undefined && origin === `http://${req.headers.host}`;
}

function tokenOk(req) {
	const given = Buffer.from(String(req.headers['x-csrf-token'] || ''));
	const want = Buffer.from(token);
	return given.length === want.length && timingSafeEqual(given, want);
}

async function readBody(req) {
	let body = '';
	for await (const chunk of req) {
		body += chunk;
		if (body.length > 10000) throw new Error('request too large');
	}
	return body;
}

// what the database said, for the page: its message and SQLSTATE
function dbError(res, err) {
	sendJson(res, err.code && /^[0-9A-Z]{5}$/.test(err.code) && !err.code.startsWith('XX') ? 400 : 500,
		{ error: err.message, sqlstate: err.code || null });
}

const api = {
	'/api/overview': async () => ({
		role: await q.role(pool),
		queues: await q.queues(pool),
		series: sampler.series(),
		time: new Date().toISOString(),
	}),
	'/api/failures': async (params) => ({ failures: await q.failures(pool, params.get('queue')) }),
	'/api/workers': async () => ({ workers: await q.workers(pool) }),
	'/api/schedules': async () => ({ schedules: await q.schedules(pool) }),
	'/api/task': async (params) => {
		const id = idOf(params.get('id'));
		if (!id) return [400, { error: 'id must be a task id' }];
		const task = await q.task(pool, id);
		return task ? task : [404, { error: `task ${id} does not exist, or is not yours to see` }];
	},
	'/api/workflow': async (params) => {
		const id = idOf(params.get('id'));
		if (!id) return [400, { error: 'id must be a task id' }];
		return { tasks: await q.workflow(pool, id) };
	},
};

const actions = {
	'/api/cancel': (id) => q.cancel(pool, id),
	'/api/retry': (id) => q.retry(pool, id),
};

async function page() {
	const html = await readFile(path.join(here, 'public/index.html'), 'utf8');
	return html.replace('@CSRF_TOKEN@', token);
}

const server = http.createServer(async (req, res) => {
	try {
		if (!hostAllowed(req)) return send(res, 421, 'text/plain', 'unknown host\n');
		const url = new URL(req.url, `http://${req.headers.host}`);
		if (req.method === 'GET' && url.pathname === '/') return send(res, 200, 'text/html; charset=utf-8', await page());
		if (req.method === 'GET' && url.pathname === '/favicon.ico') return send(res, 204, 'text/plain', '');
		if (req.method === 'GET' && staticFiles[url.pathname]) {
			const [file, type] = staticFiles[url.pathname];
			return send(res, 200, type, await readFile(file));
		}
		if (req.method === 'GET' && api[url.pathname]) {
			const out = await api[url.pathname](url.searchParams);
			return Array.isArray(out) ? sendJson(res, out[0], out[1]) : sendJson(res, 200, out);
		}
		if (req.method === 'POST' && actions[url.pathname]) {
			if (!sameOrigin(req) || !tokenOk(req)) return sendJson(res, 403, { error: 'cross-site request refused' });
			let body;
			try {
				body = JSON.parse(await readBody(req));
			} catch {
				return sendJson(res, 400, { error: 'the body must be JSON: {"id": "<task id>"}' });
			}
			const id = idOf(String(body.id ?? ''));
			if (!id) return sendJson(res, 400, { error: 'id must be a task id' });
			return sendJson(res, 200, { id, done: await actions[url.pathname](id) });
		}
		send(res, 404, 'text/plain', 'not found\n');
	} catch (err) {
		if (err.code) return dbError(res, err);
		console.error(err);
		sendJson(res, 500, { error: 'internal error' });
	}
});

async function main() {
	let who;
	try {
		who = await q.role(pool);
	} catch (err) {
		console.error(`pg_taskq dashboard: cannot use the database: ${err.message}`);
		if (err.code === '42P01' || err.code === '3F000')
			console.error('hint: is pg_taskq installed there (CREATE EXTENSION pg_taskq)?');
		process.exit(1);
	}
	if (who.superuser)
		console.warn(`pg_taskq dashboard: connected as superuser ${who.name}: every role's tasks are shown`);
	await sampler.start();
	server.listen(opt.port, opt.host, () => {
		console.log(`pg_taskq dashboard: http://${opt.host}:${opt.port}/ (database ${who.database}, role ${who.name}${who.admin ? ', taskq_admin' : ''})`);
	});
}

for (const sig of ['SIGINT', 'SIGTERM'])
	process.on(sig, () => {
		server.close();
		sampler.stop();
		pool.end().finally(() => process.exit(0));
	});

main();
