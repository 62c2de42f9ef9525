/**
 * A second host on this machine: a Linux network namespace joined to ours by a veth pair, with two addresses of a
 * private /30 that this helper picks (10.213.x.y). Names carry our pid, so a run removes what an earlier, killed
 * run of its own left behind (`removeStale`) and never touches anyone else's namespaces or links.
 * Plain JavaScript (typed in JSDoc) so that both the tests and the bench (scripts/bench/remote-link.mjs) use it.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);
const NS_PREFIX = "pyleash-t";
const LINK_PREFIX = "plt";

/**
 * @typedef {object} NetnsHost
 * @property {string} name The namespace's name, for `ip netns exec`.
 * @property {string} hostIf Our end of the veth pair.
 * @property {string} hostAddr Our end's address (no prefix length).
 * @property {string} nsIf The namespace's end of the pair.
 * @property {string} nsAddr The namespace's end's address.
 * @property {(command: string[]) => string[]} exec argv that runs `command` inside the namespace.
 * @property {() => Promise<void>} linkDown Cut the link (our end down).
 * @property {() => Promise<void>} linkUp Restore it.
 * @property {() => Promise<void>} remove Kill what still runs in the namespace, then remove it and the pair; safe twice.
 */

/** @param {string[]} args */
async function ip(...args) {
  return (await run("ip", args, { timeout: 10_000 })).stdout;
}

/** Why namespaces cannot be made here, or undefined when they can. @returns {Promise<string | undefined>} */
export async function netnsUnsupported() {
  if (process.platform !== "linux") return `network namespaces are Linux only (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return "making a network namespace needs root";
  try {
    await ip("netns", "list");
  } catch (error) {
    return `\`ip netns\` is not available (${String(/** @type {Error} */ (error).message).split("\n")[0]})`;
  }
  return undefined;
}

/** @param {number} pid */
function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return /** @type {NodeJS.ErrnoException} */ (error).code === "EPERM";
  }
}

/** Kill every process inside namespace `name` (`ip netns pids`). @param {string} name */
async function killInside(name) {
  const pids = (await ip("netns", "pids", name).catch(() => "")).split(/\s+/).filter(Boolean).map(Number);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
}

/** Remove namespaces and links of this prefix whose run (the pid in the name) is gone. */
export async function removeStale() {
  const namespaces = (await ip("netns", "list").catch(() => "")).split("\n").map((line) => line.split(" ")[0] ?? "");
  for (const name of namespaces) {
    const pid = new RegExp(`^${NS_PREFIX}(\\d+)-\\d+$`).exec(name)?.[1];
    if (pid === undefined || pidAlive(Number(pid))) continue;
    await killInside(name);
    await ip("netns", "del", name).catch(() => undefined);
  }
  const links = (await ip("-o", "link", "show").catch(() => "")).split("\n").map((line) => line.split(": ")[1]?.split("@")[0] ?? "");
  for (const link of links) {
    const pid = new RegExp(`^${LINK_PREFIX}(\\d+)n\\d+h$`).exec(link)?.[1];
    if (pid !== undefined && !pidAlive(Number(pid))) await ip("link", "del", link).catch(() => undefined);
  }
}

let made = 0;

/** A /30 of 10.213.0.0/16 no interface here uses yet: [our address, the namespace's]. @returns {Promise<[string, string]>} */
async function freeSubnet() {
  const used = await ip("-o", "-4", "addr", "show");
  for (let i = 0; i < 256; i++) {
    const third = (process.pid + made + i) % 256;
    const fourth = ((made + i) % 64) * 4;
    const subnet = `10.213.${third}.`;
    if (used.includes(`inet ${subnet}${fourth + 1}/`) || used.includes(`inet ${subnet}${fourth + 2}/`)) continue;
    return [`${subnet}${fourth + 1}`, `${subnet}${fourth + 2}`];
  }
  throw new Error("no free /30 in 10.213.0.0/16");
}

/** Make a namespace and a veth pair, addresses up; on any failure, what was made is removed again. @returns {Promise<NetnsHost>} */
export async function makeNetns() {
  made += 1;
  const name = `${NS_PREFIX}${process.pid}-${made}`;
  const hostIf = `${LINK_PREFIX}${process.pid}n${made}h`;
  const nsIf = `${LINK_PREFIX}${process.pid}n${made}n`;
  if (hostIf.length > 15) throw new Error(`interface name ${hostIf} is longer than Linux's 15 characters`);
  const [hostAddr, nsAddr] = await freeSubnet();
  let removed = false;
  /** @type {NetnsHost} */
  const host = {
    name,
    hostIf,
    hostAddr,
    nsIf,
    nsAddr,
    exec: (command) => ["ip", "netns", "exec", name, ...command],
    linkDown: async () => void (await ip("link", "set", hostIf, "down")),
    linkUp: async () => void (await ip("link", "set", hostIf, "up")),
    remove: async () => {
      if (removed) return;
      removed = true;
      await killInside(name);
      await ip("netns", "del", name).catch(() => undefined);
      await ip("link", "del", hostIf).catch(() => undefined); // gone with the namespace already, unless it failed half-way
    },
  };
  try {
    await ip("netns", "add", name);
    await ip("link", "add", hostIf, "type", "veth", "peer", "name", nsIf);
    await ip("link", "set", nsIf, "netns", name);
    // No IPv6 on the pair: its router solicitations would be the only traffic not between our two addresses.
    await run("sysctl", ["-qw", `net.ipv6.conf.${hostIf}.disable_ipv6=1`]).catch(() => undefined);
    await ip("netns", "exec", name, "sysctl", "-qw", `net.ipv6.conf.${nsIf}.disable_ipv6=1`).catch(() => undefined);
    await ip("addr", "add", `${hostAddr}/30`, "dev", hostIf);
    await ip("link", "set", hostIf, "up");
    await ip("-n", name, "addr", "add", `${nsAddr}/30`, "dev", nsIf);
    await ip("-n", name, "link", "set", nsIf, "up");
    await ip("-n", name, "link", "set", "lo", "up");
    return host;
  } catch (error) {
    await host.remove();
    throw error;
  }
}
