/**
 * A small JSON Schema (2020-12 subset) validator for the OpenAPI test: type (incl. type arrays),
 * required, properties, additionalProperties (schema), items, enum, const, pattern, minimum,
 * minItems, maxItems and local $refs. Enough for the schemas in adapters/rest/openapi.ts; anything else
 * it meets is reported, so the check cannot silently pass an unknown keyword.
 */
const KNOWN = new Set(['type', 'required', 'properties', 'additionalProperties', 'items', 'enum', 'const', 'pattern', 'minimum', 'minItems', 'maxItems', '$ref', 'description']);

export function validate(schema: any, value: unknown, root: any, path = '$'): string[] {
  if (schema.$ref !== undefined) {
    const target = (schema.$ref as string).replace(/^#\//, '').split('/').reduce((node: any, key: string) => node?.[key], root);
    if (target === undefined) return [`${path}: unresolved $ref ${schema.$ref}`];
    return validate(target, value, root, path);
  }
  const errors: string[] = [];
  for (const k of Object.keys(schema)) if (!KNOWN.has(k)) errors.push(`${path}: unsupported keyword ${k}`);
  if (schema.type !== undefined) {
    const types: string[] = Array.isArray(schema.type) ? schema.type : [schema.type];
    const actual = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
    const ok = types.some((t) => t === actual || (t === 'integer' && typeof value === 'number' && Number.isInteger(value)));
    if (!ok) return [...errors, `${path}: expected ${types.join('|')}, got ${actual}`];
  }
  if (schema.enum !== undefined && !schema.enum.some((e: unknown) => e === value)) errors.push(`${path}: ${JSON.stringify(value)} not in enum`);
  if (schema.const !== undefined && schema.const !== value) errors.push(`${path}: expected const ${JSON.stringify(schema.const)}`);
  if (schema.pattern !== undefined && typeof value === 'string' && !new RegExp(schema.pattern, 'u').test(value)) errors.push(`${path}: "${value}" does not match ${schema.pattern}`);
  if (schema.minimum !== undefined && typeof value === 'number' && value < schema.minimum) errors.push(`${path}: below minimum`);
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) errors.push(`${path}: fewer than ${schema.minItems} items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems) errors.push(`${path}: more than ${schema.maxItems} items`);
    if (schema.items !== undefined) value.forEach((v, i) => errors.push(...validate(schema.items, v, root, `${path}[${i}]`)));
  } else if (typeof value === 'object' && value !== null) {
    const obj = value as Record<string, unknown>;
    for (const r of schema.required ?? []) if (!(r in obj)) errors.push(`${path}: missing ${r}`);
    for (const [k, v] of Object.entries(obj)) {
      const sub = schema.properties?.[k] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
      if (sub !== undefined) errors.push(...validate(sub, v, root, `${path}.${k}`));
    }
  }
  return errors;
}
