// The little of Node's API that client.ts uses, so tsc needs no @types/node.
declare module "node:https" {
	interface IncomingMessage {
		statusCode?: number;
		setEncoding(enc: string): void;
		on(ev: "data", cb: (chunk: string) => void): void;
		on(ev: "end", cb: () => void): void;
	}
	interface ClientRequest {
		on(ev: "error", cb: (e: Error) => void): void;
		write(data: string): void;
		end(): void;
	}
	function request(url: URL, opts: object, cb: (res: IncomingMessage) => void): ClientRequest;
}
declare module "node:fs" {
	function readFileSync(path: string, enc: string): string;
}
declare class WebSocket {
	constructor(url: string, protocols?: string[]);
	binaryType: string;
	onmessage: (ev: { data: ArrayBuffer | string }) => void;
	onerror: () => void;
	onclose: () => void;
}
declare class TextDecoder {
	decode(b: Uint8Array): string;
}
declare const process: {
	env: Record<string, string | undefined>;
	argv: string[];
	exit(code: number): never;
};
declare const Buffer: { byteLength(s: string): number };
declare const console: { log(s: string): void; error(s: string): void };
declare class URL {
	constructor(path: string, base?: string);
	protocol: string;
	pathname: string;
	toString(): string;
}
