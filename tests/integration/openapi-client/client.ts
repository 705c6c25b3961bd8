// A client of vsd typed by the OpenAPI document: `vsd.d.ts` is generated
// from GET /v1/openapi.json by openapi-typescript (tests/integration/
// openapi.bats), and this file must type-check against it (tsc --strict)
// before it runs. It drives a container through create -> start -> status
// -> stop -> destroy over the unix socket ($VSD_SOCKET) and prints one line
// per step. exec is not driven: it answers 101 and passes descriptors over
// the unix socket (the vsd-stream protocol), which no generated client
// speaks.
import { request } from "node:http";
import type { paths, components } from "./vsd";

type Status = components["schemas"]["ContainerStatus"];
type ApiError = components["schemas"]["Error"];
type Json<T> = T extends { content: { "application/json": infer B } } ? B : never;

const socketPath = process.env.VSD_SOCKET as string;

function call<B>(method: string, path: string, body?: unknown): Promise<{ code: number; body: B }> {
	return new Promise((resolve, reject) => {
		const data = body === undefined ? undefined : JSON.stringify(body);
		const req = request(
			{
				socketPath,
				method,
				path,
				headers: data ? { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(data) } : {},
			},
			(res) => {
				let text = "";
				res.setEncoding("utf8");
				res.on("data", (c: string) => (text += c));
				res.on("end", () => resolve({ code: res.statusCode ?? 0, body: JSON.parse(text) as B }));
			},
		);
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
