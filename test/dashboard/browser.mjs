// browser.mjs: drive the dashboard in Debian's headless chromium
// (playwright-core) and print, as one JSON object, what a scenario saw;
// test/dashboard/dashboard.pl asserts on it.  Screenshots go to --shots.
//
//   node browser.mjs --url http://127.0.0.1:PORT/ --shots DIR --scenario NAME [--id N]
import { chromium } from '../../dashboard/node_modules/playwright-core/index.mjs';
import path from 'node:path';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];

const browser = await chromium.launch({
	executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
	args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
const consoleErrors = [];
page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
page.on('pageerror', (e) => consoleErrors.push(String(e)));
const out = { scenario: args.scenario };

async function shot(name) {
	await page.screenshot({ path: path.join(args.shots, `${name}.png`), fullPage: true });
}

// the rows of the table #id, as arrays of cell texts
async function tableRows(id) {
	return page.$$eval(`#${id} tbody tr`, (trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent.trim())));
}

async function waitFor(fn, timeoutMs = 15000) {
	const until = Date.now() + timeoutMs;
	for (;;) {
		const v = await fn();
		if (v) return v;
		if (Date.now() > until) return v;
		await page.waitForTimeout(250);
	}
}

try {
	switch (args.scenario) {
		case 'overview': {
			await page.goto(args.url);
			await page.waitForSelector('#queues tbody tr');
			out.queues = await tableRows('queues');
			// the plots appear once the dashboard has two readings of the statistics
			out.charts = await waitFor(async () => (await page.$$('.chart canvas')).length, 15000);
			out.who = await page.textContent('#who');
			await shot('overview');
			break;
		}
		case 'failures': {
			// a failing task must appear within seconds, without reloading the page
			await page.goto(`${args.url}#/failures`);
			await page.waitForSelector('h2');
			out.seen = await waitFor(async () => (await page.$$(`#failures button.retry[data-id="${args.id}"]`)).length > 0, 15000);
			out.rows = out.seen ? await tableRows('failures') : [];
			await shot('failures');
			if (args.retry === 'yes' && out.seen) {
				await page.click(`#failures button.retry[data-id="${args.id}"]`);
				out.status = await waitFor(async () => {
					const t = await page.textContent('#notice');
					return /queued again/.test(t) ? t : null;
				}, 10000);
			}
			break;
		}
		case 'task': {
			await page.goto(`${args.url}#/task/${args.id}`);
			await page.waitForSelector('#task, p.error');
			out.error = await page.$eval('main', (m) => m.querySelector('p.error')?.textContent ?? null);
			out.facts = out.error ? null : await page.$$eval('#task dt', (dts) =>
				Object.fromEntries(dts.map((dt) => [dt.textContent, dt.nextElementSibling.textContent])));
			out.attempts = out.error ? [] : await page.$$eval('main table tbody tr', (trs) => trs.length);
			await shot(`task-${args.id}`);
			break;
		}
		case 'workflow': {
			const t0 = Date.now();
			await page.goto(`${args.url}#/workflow/${args.id}`);
			await page.waitForSelector('#graph svg', { timeout: 30000 });
			out.ms = Date.now() - t0;
			out.circles = await page.$$eval('#graph svg circle', (cs) => cs.length);
			out.states = await page.$$eval('#graph svg circle', (cs) => {
				const n = {};
				for (const c of cs) {
					const s = [...c.classList].find((k) => k.startsWith('state-node-')).slice(11);
					n[s] = (n[s] || 0) + 1;
				}
				return n;
			});
			out.legend = await page.textContent('#legend');
			await shot('workflow');
			// usable: a click on a circle opens its task
			await page.click('#graph svg circle >> nth=0');
			await page.waitForSelector('#task');
			out.clicked = page.url();
			break;
		}
		case 'workers': {
			await page.goto(`${args.url}#/workers`);
			await page.waitForSelector('#workers tbody tr');
			out.workers = await tableRows('workers');
			await shot('workers');
			break;
		}
		case 'schedules': {
			await page.goto(`${args.url}#/schedules`);
			await page.waitForSelector('#schedules tbody tr, main p.muted');
			out.schedules = await page.$$eval('#schedules tbody tr', (trs) =>
				trs.map((tr) => [...tr.cells].map((td) => td.textContent.trim())));
			await shot('schedules');
			break;
		}
		case 'csrf': {
			// a page of another origin cannot act: its POST has no token and
			// another Origin; the dashboard refuses it
			await page.goto(args.url);
			out.foreign = await page.evaluate(async ([url, id]) => {
				const r = await fetch(`${url}api/retry`, { method: 'POST', body: JSON.stringify({ id }),
					headers: { 'Content-Type': 'application/json' } });
				return r.status;
			}, [args.url, args.id]);
			break;
		}
		default:
			throw new Error(`unknown scenario ${args.scenario}`);
	}
} catch (err) {
	out.exception = String(err);
	try { await shot(`error-${args.scenario}`); } catch { /* nothing more to show */ }
}
out.consoleErrors = consoleErrors;
await browser.close();
console.log(JSON.stringify(out));
