// What the Node end-to-end suites (tests/e2e-node, tests/dashboard) share: where the binaries
// are, a clean environment for a test server, and a child process whose output can be waited on.
// Binaries come from $CARGO_TARGET_DIR/debug (default target/debug), or API_PROXY_BIN /
// MOCK_UPSTREAM_BIN. Only Node's own modules are used, so this folder needs no node_modules.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TARGET_DIR = process.env.CARGO_TARGET_DIR
    ? path.resolve(REPO, process.env.CARGO_TARGET_DIR)
    : path.join(REPO, 'target');
export const API_PROXY_BIN = path.resolve(process.env.API_PROXY_BIN || path.join(TARGET_DIR, 'debug', 'api-proxy'));
export const MOCK_UPSTREAM_BIN = path.resolve(process.env.MOCK_UPSTREAM_BIN || path.join(TARGET_DIR, 'debug', 'mock-upstream'));
export const READY_TIMEOUT_MS = 30_000;

// Variables api-proxy reads: inherited values must not leak into a test server (a DATABASE_URL
// would move it to PostgreSQL, an OTLP endpoint would make it export traces).
const SERVER_VARS = [
    'PORT', 'HOST', 'DATABASE_PATH', 'DATABASE_URL', 'DATA_DIR', 'ADMIN_TOKEN', 'PROVIDERS_DIR',
    'MODEL_ALIASES_FILE', 'LOG_LEVEL', 'LOG_FORMAT', 'WORKERS', 'ENCRYPTION_KEY', 'REQUIRE_CLIENT_KEYS',
    'ALLOWED_HOSTS', 'CORS_ORIGINS', 'BODY_LIMIT_BYTES', 'CONNECT_TIMEOUT_MS', 'CLIENT_HEADER_TIMEOUT_MS',
    'CLIENT_BODY_TIMEOUT_MS', 'LOG_FLUSH_MS', 'LOG_BATCH_MAX', 'SHUTDOWN_TIMEOUT_SECS', 'RUST_LOG',
    'METRICS_ENABLED', 'METRICS_TOKEN', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
    'OTEL_SERVICE_NAME', 'OTEL_TRACES_SAMPLER', 'OTEL_TRACES_SAMPLER_ARG',
];

/** This process's environment without api-proxy's variables, plus `extra`. */
export function cleanEnv(extra = {}) {
    const env = { ...process.env, NO_COLOR: '1' };
    for (const name of SERVER_VARS) delete env[name];
    return { ...env, ...extra };
}

/** A child process whose output is read line by line, so a test can wait for a line. */
export class Child {
    constructor(name, argv, env, cwd) {
        if (!existsSync(argv[0])) {
            throw new Error(`${argv[0]} does not exist: run \`cargo build -p api-proxy -p mock-upstream\` first`);
        }
        this.name = name;
        this.lines = [];
        this.waiters = [];
        this.proc = spawn(argv[0], argv.slice(1), { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
        this.exited = once(this.proc, 'exit');
        for (const stream of [this.proc.stdout, this.proc.stderr]) {
            createInterface({ input: stream }).on('line', (line) => {
                this.lines.push(line);
                for (const w of [...this.waiters]) w(line);
            });
        }
        this.proc.on('exit', () => {
            for (const w of [...this.waiters]) w(null);
        });
    }

    output() {
        return this.lines.slice(-40).join('\n');
    }

    /** The first match of `pattern` in the output (past or future). */
    waitFor(pattern, timeoutMs = READY_TIMEOUT_MS) {
        for (const line of this.lines) {
            const m = line.match(pattern);
            if (m) return Promise.resolve(m);
        }
        return new Promise((resolve, reject) => {
            const done = (fn, value) => {
                clearTimeout(timer);
                this.waiters = this.waiters.filter((w) => w !== waiter);
                fn(value);
            };
            const waiter = (line) => {
                if (line === null) {
                    done(reject, new Error(`${this.name} exited before printing ${pattern}:\n${this.output()}`));
                    return;
                }
                const m = line.match(pattern);
                if (m) done(resolve, m);
            };
            const timer = setTimeout(
                () => done(reject, new Error(`${this.name} printed no ${pattern} within ${timeoutMs} ms:\n${this.output()}`)),
                timeoutMs,
            );
            this.waiters.push(waiter);
        });
    }

    /** SIGKILL: the process dies at once, as in a crash. */
    async kill() {
        if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
        this.proc.kill('SIGKILL');
        await this.exited;
    }

    /** SIGTERM (api-proxy drains in-flight requests), SIGKILL if it hangs. */
    async stop() {
        if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
        this.proc.kill('SIGTERM');
        const timer = setTimeout(() => this.proc.kill('SIGKILL'), 15_000);
        await this.exited;
        clearTimeout(timer);
    }
}
