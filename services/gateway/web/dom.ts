/** A tiny element builder: `h('p', { class: 'hint' }, 'text', child)`. Text is always set as text, never parsed as HTML. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | boolean | undefined> = {},
  ...children: (Node | string | null | undefined)[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children) if (child !== null && child !== undefined) element.append(child);
  return element;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element as T;
}

let counter = 0;
/** A unique id for aria references. */
export function uid(prefix: string): string {
  counter += 1;
  return `${prefix}-${counter}`;
}

/**
 * An accessible progress bar: role="progressbar" with aria-valuenow (whole percent, 0..100),
 * aria-valuemin/max, an aria-label and a text alternative; the fill is drawn with CSSOM
 * (allowed by the page's CSP, unlike inline style attributes).
 */
export class ProgressBar {
  readonly element: HTMLDivElement;
  private readonly fill: HTMLDivElement;
  private readonly text: HTMLSpanElement;
  private percent = -1;

  constructor(label: string, className: string) {
    this.fill = h('div', { class: 'bar-fill' });
    this.element = h('div', {
      class: `bar ${className}`,
      role: 'progressbar',
      'aria-label': label,
      'aria-valuemin': '0',
      'aria-valuemax': '100',
      'aria-valuenow': '0',
    }, this.fill);
    this.text = h('span', { class: 'bar-percent', 'aria-hidden': 'true' }, '0 %');
    this.set(0, '');
  }

  get percentText(): HTMLSpanElement {
    return this.text;
  }

  get value(): number {
    return this.percent;
  }

  set(percent: number, detail: string): void {
    const whole = Math.max(0, Math.min(100, Math.floor(percent)));
    this.element.setAttribute('aria-valuetext', detail ? `${whole} % (${detail})` : `${whole} %`);
    if (whole === this.percent) return;
    this.percent = whole;
    this.element.setAttribute('aria-valuenow', String(whole));
    this.fill.style.width = `${whole}%`;
    this.text.textContent = `${whole} %`;
  }
}
