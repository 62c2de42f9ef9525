/** `pyleash keys`: a CURVE key pair for a remote agent or a listening controller (docs/distributed.md). */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { curveKeyPair } from "zeromq";

export interface KeysOptions {
  out: string;
  name: string;
  json?: boolean;
}

/** Write NAME.key (secret, mode 0600) and NAME.pub (public) under `out`; never overwrites. */
export async function keys(options: KeysOptions): Promise<number> {
  const pair = curveKeyPair();
  await mkdir(options.out, { recursive: true });
  const secretPath = join(options.out, `${options.name}.key`);
  const publicPath = join(options.out, `${options.name}.pub`);
  try {
    await writeFile(secretPath, `${pair.secretKey}\n`, { mode: 0o600, flag: "wx" });
    await writeFile(publicPath, `${pair.publicKey}\n`, { mode: 0o644, flag: "wx" });
  } catch (error) {
    process.stderr.write(`pyleash keys: ${(error as Error).message} (refusing to overwrite a key)\n`);
    return 1;
  }
  if (options.json)
    process.stdout.write(`${JSON.stringify({ publicKey: pair.publicKey, secretKeyFile: secretPath, publicKeyFile: publicPath })}\n`);
  else process.stdout.write(`wrote ${secretPath} (secret, mode 0600) and ${publicPath}\npublic key: ${pair.publicKey}\n`);
  return 0;
}
