// An HTTP CONNECT proxy on a Unix socket, run as its own process inside a
// network namespace:  node --import tsx connectproxy.ts <socket path>
// The kube-apiserver of a kubelet cluster runs on the host, which has no route
// to the node network; its egress selector ("cluster") sends the connections
// to kubelets (logs, exec, port-forward) through this proxy in the hub
// namespace. Prints "ready" once it listens. Does I/O.
import { createServer } from "node:http";
import { connect } from "node:net";
import { rmSync } from "node:fs";

const path = process.argv[2];
if (path === undefined) {
  console.error("usage: connectproxy.ts <socket path>");
  process.exit(2);
}
const server = createServer((_req, res) => {
  res.writeHead(405).end("CONNECT only\n");
});
server.on("connect", (req, client, head) => {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(req.url ?? "");
  if (!m) {
    client.end("HTTP/1.1 400 Bad Request\r\n\r\n");
    return;
  }
  const upstream = connect(Number(m[2]), m[1], () => {
    client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
    if (head.length > 0) upstream.write(head);
    upstream.pipe(client);
    client.pipe(upstream);
  });
  upstream.on("error", () => client.end("HTTP/1.1 502 Bad Gateway\r\n\r\n"));
  client.on("error", () => upstream.destroy());
  client.on("close", () => upstream.destroy());
  upstream.on("close", () => client.destroy());
});
rmSync(path, { force: true });
server.listen(path, () => process.stdout.write("ready\n"));
