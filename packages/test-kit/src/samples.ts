/**
 * Sample inputs shared by the tests of several packages (one copy each): real export lines of
 * Cilium Tetragon, Falco alerts (Falcosidekick payloads), Kubernetes audit events (a GKE Cloud Audit
 * Log export too) and Zeek conn/dns/http logs, in `samples/` of this package.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Names of the sample files. */
export type SampleName = 'tetragon.log' | 'falco.json' | 'k8s-audit.log' | 'gke-audit.log' | 'zeek-conn.log' | 'zeek-dns.log' | 'zeek-http.log';

/** Path of a sample file. */
export function samplePath(name: SampleName): string {
  return fileURLToPath(new URL(`../samples/${name}`, import.meta.url));
}

/** The non-empty lines of a sample file. */
export function sampleLines(name: SampleName): string[] {
  return readFileSync(samplePath(name), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
}
