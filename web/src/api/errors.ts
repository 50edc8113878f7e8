/** What the storefront knows of a failed call: the API's error code, the fields it names, and whether the network
 * failed (then nothing is known about the outcome). */
export interface FieldProblem {
  readonly field: string;
  readonly message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: readonly FieldProblem[] = [],
    readonly requestId = "",
  ) {
    super(message);
  }

  /** The message of ``field`` (or of a field below it: "lines[0].quantity" for "lines[0]"). */
  fieldMessage(field: string): string | undefined {
    return this.fields.find((f) => f.field === field || f.field.startsWith(`${field}.`))?.message;
  }
}

/** The request could not reach the API (offline, DNS, connection refused): its outcome is unknown. */
export class NetworkError extends Error {}

/** A JSON pointer of the edge's validation message ("/lines/0/quantity") as the services name fields
 * ("lines[0].quantity"). */
export function pointerToField(pointer: string): string {
  return pointer
    .split("/")
    .filter(Boolean)
    .reduce((name, part) => (/^\d+$/.test(part) ? `${name}[${part}]` : name ? `${name}.${part}` : part), "");
}

/** The fields a 400 of API Gateway's request validation names: `details` lists the failures (the local edge:
 * "/field: message"; API Gateway: its validator's text, which names missing properties). */
export function fieldsOfDetails(details: string): FieldProblem[] {
  const problems: FieldProblem[] = [];
  // The validator's own words are for developers; the field is what the customer needs ("" = the form's wording).
  for (const match of details.matchAll(/(\/[\w/]*): ([^,\]]+)/g)) {
    problems.push({ field: pointerToField(match[1] ?? ""), message: "" });
  }
  for (const match of details.matchAll(/missing required properties \(\[([^\]]*)\]\)/g)) {
    for (const name of (match[1] ?? "").matchAll(/"([^"]+)"/g)) {
      problems.push({ field: name[1] ?? "", message: "" });
    }
  }
  return problems;
}

/** The API's error bodies: the services' {"error", "message", "fields"} and the gateway's {"error", "message",
 * "details", "request_id"}. */
export function errorOf(status: number, body: unknown): ApiError {
  const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  const code = typeof b.error === "string" ? b.error : `http_${status}`;
  const message = typeof b.message === "string" ? b.message : typeof b.error === "string" ? b.error : `HTTP ${status}`;
  let fields: FieldProblem[] = [];
  if (Array.isArray(b.fields)) {
    fields = b.fields.flatMap((f: unknown) => {
      const item = f as Record<string, unknown>;
      return typeof item.field === "string" ? [{ field: item.field, message: String(item.message ?? "") }] : [];
    });
  } else if (typeof b.details === "string") {
    fields = fieldsOfDetails(b.details);
  }
  return new ApiError(status, code, message, fields, typeof b.request_id === "string" ? b.request_id : "");
}
