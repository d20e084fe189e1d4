// Throughput and failure rate over the last minutes: the dashboard reads the
// cumulative counters of taskq.stats every few seconds and keeps, per queue,
// the attempts that succeeded and failed per second between two readings.
import { counters } from './queries.js';

const EVERY_MS = 2000;
const KEEP = 300;	// ten minutes of points

export class Sampler {
	constructor(pool) {
		this.pool = pool;
		this.times = [];		// seconds since the epoch
		this.perQueue = new Map();	// queue -> { succeeded: [], failed: [] }
		this.last = null;		// the previous reading: Map queue -> counters
		this.timer = null;
	}

	async sample() {
		const now = Date.now() / 1000;
		let reading;
		try {
			reading = new Map((await counters(this.pool)).map((r) => [r.queue, r]));
		} catch (err) {
			console.error(`pg_taskq dashboard: reading taskq.stats failed: ${err.message}`);
			return;
		}
		if (this.last) {
			const dt = now - this.lastTime;
			this.times.push(now);
			for (const queue of new Set([...reading.keys(), ...this.perQueue.keys()])) {
				if (!this.perQueue.has(queue))
					this.perQueue.set(queue, { succeeded: this.times.slice(1).map(() => 0),
											   failed: this.times.slice(1).map(() => 0) });
				const s = this.perQueue.get(queue);
				const cur = reading.get(queue);
				const prev = this.last.get(queue);
				// a reset (or a restart) makes the counters go down: no negative rate
				const rate = (k) => (cur && prev ? Math.max(0, cur[k] - prev[k]) / dt : 0);
				s.succeeded.push(rate('succeeded'));
				s.failed.push(rate('failed'));
			}
			if (this.times.length > KEEP) {
				this.times.shift();
				for (const s of this.perQueue.values()) {
					s.succeeded.shift();
					s.failed.shift();
				}
			}
		}
		this.last = reading;
		this.lastTime = now;
	}

	async start() {
		await this.sample();
		this.timer = setInterval(() => this.sample(), EVERY_MS);
	}

	stop() {
		clearInterval(this.timer);
	}

	// what the page plots: the times, and per queue the two rates
	series() {
		return { times: this.times, queues: Object.fromEntries(this.perQueue) };
	}
}
