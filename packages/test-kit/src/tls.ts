/**
 * A self-signed certificate for tests of TLS options (`tls.ca_file`, `tls.server_name`,
 * `tls.verify`): valid until 2126 for `DNS:es.internal` and `IP:127.0.0.1`, and its own CA.
 * Embedded rather than generated so tests need no openssl. Never use it outside tests.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TEST_TLS_CERT = `
-----BEGIN CERTIFICATE-----
MIIBojCCAUegAwIBAgIUbbDYvjhySPBSuvMd2nudMfiv4d0wCgYIKoZIzj0EAwIw
FjEUMBIGA1UEAwwLZXMuaW50ZXJuYWwwIBcNMjYxMTIyMDYwNTI3WhgPMjEyNjEw
MjkwNjA1MjdaMBYxFDASBgNVBAMMC2VzLmludGVybmFsMFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAEEibEqBUJu2+5k1+mS7mkQEczUt3X3XnoOXW/6TpaDr007piY
26vh6gd5XG8S/sWt+EAFT/Ozu3KR4hkvV/+I06NxMG8wHQYDVR0OBBYEFJtyrgxA
RNTHFgzn3UYOVTFzxnwFMB8GA1UdIwQYMBaAFJtyrgxARNTHFgzn3UYOVTFzxnwF
MA8GA1UdEwEB/wQFMAMBAf8wHAYDVR0RBBUwE4ILZXMuaW50ZXJuYWyHBH8AAAEw
CgYIKoZIzj0EAwIDSQAwRgIhAOe3GvVHtbL3Etore5q/9fbcIiPNHSlgRprfi/54
poEBAiEA4CAoayNt3d8XY4OcZNMAL1W3a/xa1kAlByD717SIIlE=
-----END CERTIFICATE-----
`.trimStart();

export const TEST_TLS_KEY = `
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg/NcnL7WJTTUpZ0C6
gHk6LU10mmc21vs/yxcptkic5S+hRANCAAQSJsSoFQm7b7mTX6ZLuaRARzNS3dfd
eeg5db/pOloOvTTumJjbq+HqB3lcbxL+xa34QAVP87O7cpHiGS9X/4jT
-----END PRIVATE KEY-----
`.trimStart();

/** Writes the certificate and key into a fresh temporary directory; returns their paths. */
export function writeTestTls(): { dir: string; cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tern-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  writeFileSync(cert, TEST_TLS_CERT);
  writeFileSync(key, TEST_TLS_KEY);
  return { dir, cert, key };
}
