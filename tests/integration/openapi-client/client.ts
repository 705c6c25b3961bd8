// A client of vsd typed by the OpenAPI document: `vsd.d.ts` is generated
// from GET /v1/openapi.json by openapi-typescript (tests/integration/
// openapi.bats), and this file must type-check against it (tsc --strict)
// before it runs. As a hosting panel would, it talks HTTPS to vsd's
// listener ($VSD_URL) with an API token (the file $VSD_TOKEN_FILE), pins
// the node's certificate by its SHA-256 ($VSD_FP; the node's certificate is
// also the trust anchor, NODE_EXTRA_CA_CERTS), and drives a container
// through create -> start -> status -> exec -> stop -> destroy, printing one
// line per step. exec takes a one-time stream ticket (POST .../exec with
// "ticket": true) and runs it over a WebSocket (Node's WebSocket, RFC 6455),
// as a browser terminal would.
import { request } from "node:https";
import { readFileSync } from "node:fs";
import type { paths, components } from "./vsd";

type Status = components["schemas"]["ContainerStatus"];
type ApiError = components["schemas"]["Error"];
type Json<T> = T extends { content: { "application/json": infer B } } ? B : never;

const base = process.env.VSD_URL as string;
const token = readFileSync(process.env.VSD_TOKEN_FILE as string, "utf8").trim();
const pin = (process.env.VSD_FP as string).toLowerCase();

function fingerprint(colons: string): string {
	return colons.replace(/:/g, "").toLowerCase();
}

function call<B>(method: string, path: string, body?: unknown): Promise<{ code: number; body: B }> {
	return new Promise((resolve, reject) => {
		const data = body === undefined ? undefined : JSON.stringify(body);
		const headers: Record<string, string | number> = { Authorization: `Bearer ${token}` };
		if (data) {
			headers["Content-Type"] = "application/json";
			headers["Content-Length"] = Buffer.byteLength(data);
		}
		// The pin is checked during the handshake, before a byte of the
		// request goes out.
		const checkServerIdentity = (_host: string, cert: { fingerprint256: string }) => {
			const got = fingerprint(cert.fingerprint256);
			return got === pin ? undefined : new Error(`the node's certificate is ${got}, pinned ${pin}`);
		};
		const req = request(new URL(path, base), { method, headers, checkServerIdentity }, (res) => {
			let text = "";
			res.setEncoding("utf8");
			res.on("data", (c: string) => (text += c));
			res.on("end", () => resolve({ code: res.statusCode ?? 0, body: JSON.parse(text) as B }));
		});
		req.on("error", reject);
		if (data) req.write(data);
		req.end();
	});
}

function expect(what: string, code: number, want: number, body: unknown): void {
	if (code !== want) {
		const e = body as ApiError;
		throw new Error(`${what}: HTTP ${code}, wanted ${want}: ${e?.error?.code} ${e?.error?.message}`);
	}
}

// Run a ticket's stream: binary messages carry a channel byte (1 stdout,
// 2 stderr) and data; the text message {"type": "exit"} ends it.
function stream(path: string): Promise<{ stdout: string; code: number }> {
	return new Promise((resolve, reject) => {
		const url = new URL(path, base);
		url.protocol = "wss:";
		const ws = new WebSocket(url.toString(), ["vsd.exec.v1"]);
		ws.binaryType = "arraybuffer";
		let stdout = "";
		let code = -1;
		ws.onmessage = (ev: { data: ArrayBuffer | string }) => {
			if (typeof ev.data === "string") {
				const m = JSON.parse(ev.data) as { type: string; code?: number };
				if (m.type === "exit") code = m.code ?? -1;
				return;
			}
			const b = new Uint8Array(ev.data);
			if (b[0] === 1) stdout += new TextDecoder().decode(b.subarray(1));
		};
		ws.onerror = () => reject(new Error(`WebSocket ${url.pathname} failed`));
		ws.onclose = () => resolve({ stdout, code });
	});
}

async function main(): Promise<void> {
	const name = process.argv[2];
	const create: Json<paths["/v1/containers"]["post"]["requestBody"]> = {
		name,
		template: "busybox",
		limits: { memory: "64M", pids: 100 },
	};
	type Created = Json<paths["/v1/containers"]["post"]["responses"]["201"]>;
	const c = await call<Created>("POST", "/v1/containers", create);
	expect("create", c.code, 201, c.body);
	console.log(`created ${c.body.name} ${c.body.state}`);

	type State = Json<paths["/v1/containers/{name}/state"]["put"]["requestBody"]>;
	type StateAnswer = Json<paths["/v1/containers/{name}/state"]["put"]["responses"]["200"]>;
	const start: State = { action: "start" };
	const s = await call<StateAnswer>("PUT", `/v1/containers/${name}/state`, start);
	expect("start", s.code, 200, s.body);
	console.log(`started ${s.body.state} init_pid>0=${s.body.init_pid > 0}`);

	const g = await call<Status>("GET", `/v1/containers/${name}`);
	expect("status", g.code, 200, g.body);
	console.log(`status ${g.body.state} memory=${g.body.limits?.memory}`);

	type ExecBody = Json<paths["/v1/containers/{name}/exec"]["post"]["requestBody"]>;
	type Ticket = Json<paths["/v1/containers/{name}/exec"]["post"]["responses"]["201"]>;
	const exec: ExecBody = { command: ["sh", "-c", "echo hello-$((6*7)); exit 3"], ticket: true };
	const k = await call<Ticket>("POST", `/v1/containers/${name}/exec`, exec);
	expect("exec ticket", k.code, 201, k.body);
	const ran = await stream(`${k.body.url}?secret=${k.body.secret}`);
	console.log(`exec stdout=${ran.stdout.trim()} exit=${ran.code}`);

	const stop: State = { action: "stop", timeout: 10 };
	const t = await call<StateAnswer>("PUT", `/v1/containers/${name}/state`, stop);
	expect("stop", t.code, 200, t.body);
	console.log(`stopped ${t.body.state}`);

	type Deleted = Json<paths["/v1/containers/{name}"]["delete"]["responses"]["200"]>;
	const d = await call<Deleted>("DELETE", `/v1/containers/${name}`);
	expect("destroy", d.code, 200, d.body);
	console.log(`destroyed ${d.body.deleted}`);

	type Missing = Json<components["responses"]["NotFound"]>;
	const m = await call<Missing>("GET", `/v1/containers/${name}`);
	expect("status after destroy", m.code, 404, m.body);
	console.log(`gone ${m.body.error.code}`);
}

main().catch((e: Error) => {
	console.error(`client: ${e.message}`);
	process.exit(1);
});
