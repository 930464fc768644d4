import { describe, expect, it } from 'vitest';
import { bearerToken, certificateName, certificateSubject, httpCredentials } from './credentials.js';
import { httpErrorOf, rawHttpError, rawHttpResponse } from './http-status.js';
import { GatewayError } from '../gateway/errors.js';

describe('credentials from HTTP', () => {
  it('names a certificate by its CN, else by its whole subject (every protocol the same)', () => {
    expect(certificateName({ CN: 'device-7', O: 'Acme' })).toBe('device-7');
    expect(certificateName({ O: 'Acme', OU: ['a', 'b'] })).toBe('O=Acme,OU=a+b');
    expect(certificateName({ CN: '', O: 'Acme' })).toBe('CN=,O=Acme');
    expect(certificateName({})).toBeUndefined();
    expect(certificateName(undefined)).toBeUndefined();
  });

  it('reads a certificate only from a verified TLS socket', () => {
    const peer = { getPeerCertificate: () => ({ subject: { CN: 'd1' } }) };
    expect(certificateSubject({ ...peer, authorized: true })).toBe('d1');
    expect(certificateSubject({ ...peer, authorized: false })).toBeUndefined();
    expect(certificateSubject({ authorized: true })).toBeUndefined();
  });

  it('takes the Bearer header first, then ?access_token= unless turned off, plus the certificate', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer   abc')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeUndefined();
    const headers = { authorization: 'Bearer header-token' };
    expect(httpCredentials({ headers, url: '/v1/ws?access_token=q' })).toEqual({ token: 'header-token' });
    expect(httpCredentials({ headers: {}, url: '/v1/ws?x=1&access_token=q%20t' })).toEqual({ token: 'q t' });
    expect(httpCredentials({ headers: {}, url: '/metrics?access_token=q' }, { queryToken: false })).toEqual({});
    expect(httpCredentials({ headers: {}, url: '/x', certificateSubject: 'd1' })).toEqual({ certificateSubject: 'd1' });
  });
});

describe('Code -> HTTP', () => {
  it('maps core errors to Confluent status and error_code; unknown throwables to a hidden 500', () => {
    expect(httpErrorOf(new GatewayError('RESOURCE_EXHAUSTED', 'slow down'))).toMatchObject({ status: 429, body: { error_code: 42901, message: 'slow down' } });
    expect(httpErrorOf(new GatewayError('TOPIC_NOT_FOUND', 'no', { details: { topic: 't' } }), true).body).toEqual({ error_code: 40401, message: 'no', code: 'TOPIC_NOT_FOUND', details: { topic: 't' } });
    const hidden = httpErrorOf(new Error('secret internals'));
    expect(hidden.status).toBe(500);
    expect(hidden.body.message).not.toContain('secret');
  });

  it('writes raw responses with a reason phrase, Connection: close and an exact Content-Length', () => {
    expect(rawHttpResponse(431)).toBe('HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    const raw = rawHttpError(503, { error_code: 50303, message: 'é' }, { 'Retry-After': 1 });
    const [head, body] = raw.split('\r\n\r\n');
    expect(head).toContain('\r\nRetry-After: 1\r\n');
    expect(head).toContain(`\r\nContent-Length: ${Buffer.byteLength(body!)}`);
    expect(JSON.parse(body!)).toEqual({ error_code: 50303, message: 'é' });
  });
});
