import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, NetworkError } from "./api/errors";
import type { FieldRule } from "./api/rules";
import { type MessageKey, t } from "./i18n";
import { navigate } from "./router";

export function Link(props: { href: string; children: ComponentChildren; class?: string; "aria-label"?: string }) {
  const onClick = (event: MouseEvent) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(props.href);
  };
  return (
    <a href={props.href} class={props.class} onClick={onClick} aria-label={props["aria-label"]}>
      {props.children}
    </a>
  );
}

/** The page's title and heading; the heading takes the focus when the page changes, so screen readers announce it. */
export function Page(props: { title: string; children: ComponentChildren }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${props.title} · ${t("shop.name")}`;
    heading.current?.focus();
  }, [props.title]);
  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title" tabIndex={-1} ref={heading}>
        {props.title}
      </h1>
      {props.children}
    </section>
  );
}

/** Input attributes from a request body's generated rules (src/api/generated/rules.ts): the browser refuses what
 * the edge and the service would refuse, before sending it. */
export function constraints(rule: FieldRule | undefined) {
  return {
    required: rule?.required,
    minLength: rule?.minLength,
    maxLength: rule?.maxLength,
    min: rule?.min,
    max: rule?.max,
  };
}

interface FieldProps {
  readonly id: string;
  readonly label: string;
  readonly rule?: FieldRule;
  readonly error?: string | undefined;
  readonly help?: string;
  readonly value: string;
  readonly onValue: (value: string) => void;
  readonly type?: "text" | "email" | "number" | "password";
  readonly multiline?: boolean;
  readonly autoComplete?: string;
  readonly disabled?: boolean;
}

/** A labelled input with its help and, next to it, the API's message about it. */
export function Field(props: FieldProps) {
  const described = [props.help ? `${props.id}-help` : "", props.error ? `${props.id}-error` : ""].filter(Boolean);
  const { min, max, ...lengths } = constraints(props.rule);
  const common = {
    id: props.id,
    name: props.id,
    value: props.value,
    disabled: props.disabled,
    autoComplete: props.autoComplete,
    "aria-invalid": props.error ? true : undefined,
    "aria-describedby": described.length ? described.join(" ") : undefined,
    onInput: (e: Event) => props.onValue((e.currentTarget as HTMLInputElement | HTMLTextAreaElement).value),
    ...lengths,
  };
  // One element per type: preact's typings tie the attributes an input takes to its type.
  const input = (type: NonNullable<FieldProps["type"]>) => {
    switch (type) {
      case "number":
        return <input {...common} type="number" min={min} max={max} />;
      case "password":
        return <input {...common} type="password" />;
      case "email":
        return <input {...common} type="email" />;
      default:
        return <input {...common} type="text" />;
    }
  };
  return (
    <div class="field">
      <label for={props.id}>
        {props.label}
        {props.rule?.required ? <span class="hint"> {t("common.required")}</span> : null}
      </label>
      {props.multiline ? (
        <textarea {...common} rows={3} />
      ) : (
        input(props.type ?? (props.rule?.type === "email" ? "email" : "text"))
      )}
      {props.help ? <p id={`${props.id}-help`} class="hint">{props.help}</p> : null}
      {props.error ? <p id={`${props.id}-error`} class="error" role="alert">{props.error}</p> : null}
    </div>
  );
}

/** A form's failure that names no field of it (or a field the form has no input for). */
export function FormError(props: { error: unknown; fields?: readonly string[] }) {
  const { error } = props;
  if (!error) return null;
  let text: string;
  let reference = "";
  if (error instanceof NetworkError) text = t("common.networkError");
  else if (error instanceof ApiError) {
    const shown = new Set(props.fields ?? []);
    const unshown = error.fields.filter((f) => ![...shown].some((s) => f.field === s || f.field.startsWith(`${s}.`)));
    if (error.fields.length > 0 && unshown.length === 0) return null;
    text = unshown.length > 0
      ? unshown.map((f) => `${f.field}: ${f.message || t("common.invalidField")}`).join("; ")
      : error.message;
    reference = error.requestId;
  } else text = t("common.error", { message: error instanceof Error ? error.message : String(error) });
  return (
    <div class="form-error" role="alert">
      <p>{text}</p>
      {reference ? <p class="hint">{t("common.reference", { id: reference })}</p> : null}
    </div>
  );
}

/** The API's message about ``field`` (the edge names the field but not in the customer's words: then ours). */
export function fieldError(error: unknown, field: string): string | undefined {
  const message = error instanceof ApiError ? error.fieldMessage(field) : undefined;
  return message === "" ? t("common.invalidField") : message;
}

export function Status(props: { message: string }) {
  return props.message ? <p role="status" class="status">{props.message}</p> : <p role="status" class="status" />;
}

/** Loads with ``load`` whenever ``deps`` change; the result, the error, and a way to load again. */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]) {
  const [state, setState] = useState<{ value?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [round, setRound] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (value) => live && setState({ value, loading: false }),
      (error: unknown) => live && setState({ error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, round]);
  return { ...state, reload: () => setRound((r) => r + 1) };
}

export function Loading() {
  return <p class="loading">{t("common.loading")}</p>;
}

export function Availability(props: { value: string }) {
  const key = `availability.${props.value}` as MessageKey;
  return <span class={`badge badge-${props.value.toLowerCase()}`}>{t(key)}</span>;
}
