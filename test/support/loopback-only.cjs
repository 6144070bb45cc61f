// Preloaded (node --require) into Herald processes that tests start with Azure Monitor's distro: the distro probes
// Azure's instance metadata service (169.254.169.254) and Microsoft's statsbeat endpoints. Tests talk to loopback
// only, so any connection elsewhere is refused here, before a packet leaves the machine.
"use strict";
const net = require("node:net");

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  // net.connect and http pass one array of normalized arguments ([options, callback]); a direct call passes them.
  const given = Array.isArray(args[0]) ? args[0] : args;
  const options = typeof given[0] === "object" && given[0] !== null ? given[0] : { port: given[0], host: typeof given[1] === "string" ? given[1] : undefined };
  const host = options.path ? "unix" : String(options.host ?? "localhost");
  if (!(host === "unix" || host === "localhost" || host.startsWith("127.") || host === "::1" || host === "[::1]")) {
    const error = Object.assign(new Error(`loopback-only: refused a connection to ${host}`), { code: "ECONNREFUSED" });
    process.nextTick(() => this.destroy(error));
    return this;
  }
  return connect.apply(this, args);
};
