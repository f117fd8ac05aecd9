/**
 * HMAC signature of a request body, GitHub style (`X-Hub-Signature-256: sha256=<hex>`), for
 * receivers that verify where a webhook came from. The signed bytes are the body exactly as sent
 * (compressed when `compression: gzip`), so a receiver verifies before it decodes anything.
 */
import { createHmac } from 'node:crypto';

export type SignatureAlgorithm = 'sha256' | 'sha512';

/** The header value for `body`: `<algorithm>=<hex hmac>`. */
export function sign(secret: string, body: string | Buffer, algorithm: SignatureAlgorithm = 'sha256'): string {
  return `${algorithm}=${createHmac(algorithm, secret).update(body).digest('hex')}`;
}
