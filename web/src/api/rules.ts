/** The constraints of one request body field, as generated from the services' OpenAPI documents. */
export interface FieldRule {
  readonly required?: boolean;
  readonly type?: string;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly min?: number;
  readonly max?: number;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly choices?: readonly (string | number | boolean | null)[];
}
