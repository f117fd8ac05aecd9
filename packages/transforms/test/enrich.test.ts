/**
 * The enrichment transforms, with known answers from the libraries' own test vectors:
 * `user_agent` (uap-core's tests/test_ua.yaml and Elasticsearch's user_agent processor REST test),
 * `domain` (publicsuffix.org's test list and Elasticsearch's registered_domain examples), `geoip`
 * (records of MaxMind's test databases, written into a database the test builds itself), and the
 * Zeek profile applying the first two where Elastic's Zeek pipelines do.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TernError, withDefaults, type LogEvent } from '@tern/core';
import { domainTransform, geoipTransform, splitDomain, userAgentTransform, parseUserAgentUncached } from '../src/index.ts';
import { mapZeek } from '../src/ecs/index.ts';
import { fixtureLine, jsonEvent, run, testContext } from './fixtures/context.ts';
import { writeMmdb } from './fixtures/mmdb-writer.ts';

const CHROME_MAC = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_2) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/33.0.1750.149 Safari/537.36';

test('user agents parse as Elasticsearch parses them (its REST test) and as uap-core\'s test cases say', () => {
  // Elasticsearch's ingest-user-agent REST test "Test user agent processor with defaults".
  const chrome = parseUserAgentUncached(CHROME_MAC);
  assert.equal(chrome.name, 'Chrome');
  assert.equal(chrome.version, '33.0.1750.149');
  assert.deepEqual(chrome.os, { name: 'Mac OS X', version: '10.9.2', full: 'Mac OS X 10.9.2' });
  assert.deepEqual(chrome.device, { name: 'Mac' });
  // uap-core tests/test_ua.yaml: family and major.minor.patch(.patch_minor).
  const cases: Array<[string, string, string | undefined]> = [
    ['Mozilla/5.0 (Linux; Android 4.2; Galaxy Nexus Build/JOP40C) AppleWebKit/535.19 (KHTML, like Gecko) Chrome/18.0.1025.166 Mobile Safari/535.19', 'Chrome Mobile', '18.0.1025.166'],
    ['Mozilla/5.0 (X11; U; Linux i686; en-US; rv:1.9.1.1pre) Gecko/20090717 Ubuntu/9.04 (jaunty) Shiretoko/3.5.1pre', 'Firefox (Shiretoko)', '3.5.1pre'],
    ['Java/1.8.0_25', 'Java', '8.0.25'],
    ['Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', 'Googlebot', '2.1'],
    ['WhatsApp/2.17.70 W', 'WhatsApp', '2.17.70'],
    ['Mozilla/5.0 (compatible; Windows NT 6.1; Catchpoint) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/43.0.2357.81 Safari/537.36', 'Catchpoint', undefined],
  ];
  for (const [ua, name, version] of cases) {
    const r = parseUserAgentUncached(ua);
    assert.equal(r.name, name, ua);
    assert.equal(r.version, version, ua);
  }
  // No rule matches: "Other", as Elastic writes it.
  assert.deepEqual(parseUserAgentUncached('zz-unknown-client'), { original: 'zz-unknown-client', name: 'Other', device: { name: 'Other' } });
});

test('user_agent transform: writes ECS user_agent.*, leaves events without the field untouched', async () => {
  const ev = jsonEvent(JSON.stringify({ user_agent: { original: CHROME_MAC }, http: { request: { method: 'GET' } } }));
  const none = jsonEvent('{"message":"no ua"}');
  const other = jsonEvent(JSON.stringify({ userAgent: 'curl/8.5.0' }));
  const { out, ctx } = await run(userAgentTransform, {}, [ev, none]);
  assert.deepEqual(out[0]?.data.user_agent, { original: CHROME_MAC, name: 'Chrome', version: '33.0.1750.149', os: { name: 'Mac OS X', version: '10.9.2', full: 'Mac OS X 10.9.2' }, device: { name: 'Mac' } });
  assert.equal(none.modified, false);
  assert.equal(ctx.telemetry.snapshot().events_parsed, 1);
  const r2 = await run(userAgentTransform, { field: 'userAgent', target: 'client.user_agent' }, [other]);
  assert.deepEqual((r2.out[0]?.data.client as Record<string, unknown>).user_agent, { original: 'curl/8.5.0', name: 'curl', version: '8.5.0', device: { name: 'Other' } });
  assert.deepEqual(userAgentTransform.validate?.(withDefaults(userAgentTransform, { field: 'a..b' })), ['field: invalid field path "a..b" at column 3: empty segment']);
});

test('public suffix split: publicsuffix.org test list, with Elastic\'s answer for names that are a suffix', () => {
  const reg = (name: string) => splitDomain(name)?.registered_domain ?? null;
  // checkPublicSuffix(domain, registrable) from publicsuffix.org's tests.txt
  const vectors: Array<[string, string | null]> = [
    ['example.com', 'example.com'], ['b.example.com', 'example.com'], ['a.b.example.com', 'example.com'],
    ['uk.com', null], ['example.uk.com', 'example.uk.com'], ['b.example.uk.com', 'example.uk.com'],
    ['test.ac', 'test.ac'],
    ['c.mm', null], ['b.c.mm', 'b.c.mm'], ['a.b.c.mm', 'b.c.mm'],
    ['test.jp', 'test.jp'], ['www.test.jp', 'test.jp'], ['ac.jp', null], ['test.ac.jp', 'test.ac.jp'],
    ['kyoto.jp', null], ['test.kyoto.jp', 'test.kyoto.jp'], ['ide.kyoto.jp', null], ['b.ide.kyoto.jp', 'b.ide.kyoto.jp'],
    ['c.kobe.jp', null], ['b.c.kobe.jp', 'b.c.kobe.jp'], ['city.kobe.jp', 'city.kobe.jp'], ['www.city.kobe.jp', 'city.kobe.jp'],
    ['k12.ak.us', null], ['test.k12.ak.us', 'test.k12.ak.us'], ['www.test.k12.ak.us', 'test.k12.ak.us'],
  ];
  for (const [name, want] of vectors) assert.equal(reg(name), want, name);
  // Elasticsearch's registered_domain processor examples.
  assert.deepEqual(splitDomain('www.google.co.uk'), { registered_domain: 'google.co.uk', top_level_domain: 'co.uk', subdomain: 'www' });
  assert.deepEqual(splitDomain('google.com'), { registered_domain: 'google.com', top_level_domain: 'com' });
  assert.deepEqual(splitDomain('co.uk'), { top_level_domain: 'co.uk' });
  // Not splittable: no listed suffix, an IP, nothing.
  assert.equal(splitDomain('printer.local'), undefined);
  assert.equal(splitDomain('10.0.0.1'), undefined);
  assert.equal(splitDomain(''), undefined);
  assert.deepEqual(splitDomain('WWW.Example.COM.'), { registered_domain: 'example.com', top_level_domain: 'com', subdomain: 'www' });
});

test('domain transform: writes next to the field by default, or into target', async () => {
  const ev = jsonEvent('{"url":{"domain":"api.eu.example.co.uk"}}');
  const local = jsonEvent('{"url":{"domain":"printer.local"}}');
  const { out } = await run(domainTransform, { field: 'url.domain' }, [ev, local]);
  assert.deepEqual(out[0]?.data.url, { domain: 'api.eu.example.co.uk', registered_domain: 'example.co.uk', top_level_domain: 'co.uk', subdomain: 'api.eu' });
  assert.equal(local.modified, false);
  const r2 = await run(domainTransform, { field: 'query', target: 'dns.question' }, [jsonEvent('{"query":"www.github.com"}')]);
  assert.deepEqual(r2.out[0]?.data.dns, { question: { registered_domain: 'github.com', top_level_domain: 'com', subdomain: 'www' } });
  assert.deepEqual(domainTransform.validate?.({ field: 'query' }), ['target: required when field is at the top level (there is no object holding it)']);
});

test('zeek profile: user agents parsed and DNS names split where Elastic\'s Zeek pipelines do', () => {
  const http = mapZeek(JSON.parse(fixtureLine('zeek-http.log', 1)) as Record<string, unknown>, { zeekLog: 'http' });
  assert.deepEqual(http.user_agent, { original: 'curl/8.5.0', name: 'curl', version: '8.5.0', device: { name: 'Other' } });
  const dns = mapZeek(JSON.parse(fixtureLine('zeek-dns.log', 1)) as Record<string, unknown>, { zeekLog: 'dns' });
  assert.deepEqual((dns.dns as { question: unknown }).question, { name: 'api.github.com', class: 'IN', type: 'A', registered_domain: 'github.com', top_level_domain: 'com', subdomain: 'api' });
  const local = mapZeek(JSON.parse(fixtureLine('zeek-dns.log', 2)) as Record<string, unknown>, { zeekLog: 'dns' });
  assert.equal(((local.dns as { question: Record<string, unknown> }).question).registered_domain, undefined);
});

// Records of MaxMind's test databases (MaxMind-DB source-data: GeoIP2-City-Test, GeoLite2-ASN-Test).
const LINKOPING = {
  city: { geoname_id: 2694762, names: { en: 'Linköping' } },
  continent: { code: 'EU', geoname_id: 6255148, names: { en: 'Europe' } },
  country: { geoname_id: 2661886, iso_code: 'SE', names: { en: 'Sweden' } },
  location: { accuracy_radius: 76, latitude: 58.4167, longitude: 15.6167, time_zone: 'Europe/Stockholm' },
  subdivisions: [{ geoname_id: 2685867, iso_code: 'E', names: { en: 'Östergötland County' } }],
};
const LONDON = {
  city: { names: { en: 'London' } },
  continent: { code: 'EU', names: { en: 'Europe' } },
  country: { iso_code: 'GB', names: { en: 'United Kingdom' } },
  location: { latitude: 51.5142, longitude: -0.0931, time_zone: 'Europe/London' },
  subdivisions: [{ iso_code: 'ENG', names: { en: 'England' } }],
};
const JAPAN = { continent: { code: 'AS', names: { en: 'Asia' } }, country: { iso_code: 'JP', names: { en: 'Japan' } }, location: { latitude: 35.68536, longitude: 139.75309 } };

function databases(): { dir: string; city: string; asn: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tern-geoip-'));
  const city = join(dir, 'GeoIP2-City-Test.mmdb');
  const asn = join(dir, 'GeoLite2-ASN-Test.mmdb');
  writeFileSync(city, writeMmdb([{ network: '89.160.20.128/25', data: LINKOPING }, { network: '81.2.69.142/31', data: LONDON }, { network: '2001:218::/32', data: JAPAN }], 'GeoIP2-City'));
  writeFileSync(asn, writeMmdb([{ network: '1.128.0.0/11', data: { autonomous_system_number: 1221, autonomous_system_organization: 'Telstra Pty Ltd' } }, { network: '89.160.20.0/24', data: { autonomous_system_number: 29518, autonomous_system_organization: 'Bredband2 AB' } }], 'GeoLite2-ASN'));
  return { dir, city, asn };
}

test('geoip: ECS geo and as next to each ip, with Elastic\'s default properties, from City and ASN databases', async (t) => {
  const { dir, city, asn } = databases();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ev = jsonEvent(JSON.stringify({ source: { ip: '89.160.20.156' }, destination: { ip: '1.128.0.5' }, client: { ip: ['10.0.0.1', '81.2.69.142'] }, server: { ip: '2001:218::1' } }));
  const priv = jsonEvent(JSON.stringify({ source: { ip: '10.1.2.3' }, destination: { ip: 'not-an-ip' } }));
  const built = await geoipTransform.build(withDefaults(geoipTransform, { database: [city, asn] }), testContext('geoip'));
  const out: LogEvent[] = [];
  await built.process([ev, priv], (evs) => out.push(...evs));
  const d = out[0]?.data as Record<string, Record<string, unknown>>;
  // Elasticsearch's geoip processor on MaxMind's test City database answers this for 89.160.20.128/25.
  assert.deepEqual(d.source?.geo, {
    continent_name: 'Europe',
    country_iso_code: 'SE',
    country_name: 'Sweden',
    region_iso_code: 'SE-E',
    region_name: 'Östergötland County',
    city_name: 'Linköping',
    location: { lat: 58.4167, lon: 15.6167 },
  });
  assert.deepEqual(d.source?.as, { number: 29518, organization: { name: 'Bredband2 AB' } });
  assert.deepEqual(d.destination?.as, { number: 1221, organization: { name: 'Telstra Pty Ltd' } });
  assert.equal(d.destination?.geo, undefined);
  assert.equal((d.client?.geo as Record<string, unknown>).city_name, 'London', 'a list: the first address found');
  assert.deepEqual(d.server?.geo, { continent_name: 'Asia', country_iso_code: 'JP', country_name: 'Japan', location: { lat: 35.68536, lon: 139.75309 } });
  assert.equal(priv.modified, false);
});

test('geoip: a missing or broken database fails the start with its path', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tern-geoip-bad-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'broken.mmdb'), 'not a database');
  for (const file of ['missing.mmdb', 'broken.mmdb']) {
    await assert.rejects(Promise.resolve(geoipTransform.build(withDefaults(geoipTransform, { database: file }), { ...testContext('geoip'), configDir: dir })), (err: unknown) => {
      assert.ok(err instanceof TernError);
      assert.equal(err.code, 'TERN_ERR_BUILD');
      assert.ok(err.message.includes(join(dir, file)), err.message);
      return true;
    });
  }
});
