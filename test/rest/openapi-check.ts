/**
 * Validates bodies against the served OpenAPI 3.1 document with ajv (JSON Schema 2020-12, the
 * dialect OpenAPI 3.1 uses): the whole document is the root, so its `#/components/schemas/…`
 * references resolve as they do for any OpenAPI tool.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';

const DOC_ID = 'https://streamgate.invalid/openapi.json';

/** JSON Pointer escaping (RFC 6901) of one path segment. */
const escape = (segment: string): string => encodeURIComponent(segment.replace(/~/g, '~0').replace(/\//g, '~1'));

export class OpenApiCheck {
  private readonly ajv: Ajv2020;

  constructor(document: object) {
    // The document root holds OpenAPI fields, not schema keywords: they are not a schema error.
    this.ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
    this.ajv.addSchema({ ...document, $id: DOC_ID });
  }

  /** Errors of `value` against the schema at `pointer` (segments, unescaped) in the document; [] when valid. */
  errors(pointer: readonly string[], value: unknown): string[] {
    const validate = this.ajv.compile({ $ref: `${DOC_ID}#/${pointer.map(escape).join('/')}` });
    if (validate(value)) return [];
    return (validate.errors ?? []).map((e) => `${e.instancePath || '$'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
  }

  /** Errors of a response body against its documented schema. */
  responseErrors(template: string, method: string, status: number, contentType: string, body: unknown): string[] {
    return this.errors(['paths', template, method, 'responses', String(status), 'content', contentType, 'schema'], body);
  }
}
