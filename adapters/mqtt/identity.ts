/**
 * PLACEHOLDER until the core's gateway/grants.ts lands (then these come from there): identity
 * pattern substitution and `*` matching for `mqtt.clientIdPattern`.
 */
import type { Principal } from '../../gateway/api.js';

/** Substitutes {sub} and {claim:NAME}; undefined when a value is missing or contains * + # / . */
export function expandIdentityPattern(pattern: string, principal: Principal): string | undefined {
  let missing = false;
  const claims = (principal as { claims?: Readonly<Record<string, string>> }).claims ?? {};
  const out = pattern.replace(/\{(sub|claim:([^}]+))\}/g, (_m, what: string, claim: string | undefined) => {
    const v = what === 'sub' ? principal.id : claims[claim!];
    if (v === undefined || /[*+#/]/.test(v)) missing = true;
    return v ?? '';
  });
  return missing ? undefined : out;
}

/** `*` matches any run of characters; linear time (greedy with backtrack to the last star). */
export function globMatch(pattern: string, value: string): boolean {
  let p = 0;
  let v = 0;
  let star = -1;
  let mark = 0;
  while (v < value.length) {
    if (p < pattern.length && pattern[p] !== '*' && pattern[p] === value[v]) {
      p++;
      v++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = v;
    } else if (star >= 0) {
      p = star + 1;
      v = ++mark;
    } else return false;
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

/** True for the principal of a gateway without authentication (no scope: may do everything). */
export function unrestricted(principal: Principal): boolean {
  return principal.anonymous && principal.grants === undefined;
}
