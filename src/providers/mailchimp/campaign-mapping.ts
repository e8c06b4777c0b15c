import type { RecordWrite } from '../../domain/records.js';

/** The fields of a Mailchimp campaign we read; the rest is kept as it came. */
export interface MailchimpCampaign {
  id: string;
  web_id?: number;
  type?: string;
  status?: string;
  create_time?: string;
  /** "" until the campaign is sent. */
  send_time?: string;
  emails_sent?: number;
  settings?: { title?: string; subject_line?: string; from_name?: string; [k: string]: unknown };
  recipients?: { list_id?: string; [k: string]: unknown };
  report_summary?: Record<string, unknown>;
  [k: string]: unknown;
}

/** Mailchimp campaign -> unified campaign: summary fields in `details`, the whole campaign in `attributes`. */
export function campaignFromMailchimp(c: MailchimpCampaign, source: string): RecordWrite {
  const { _links: _ignored, ...rest } = c;
  const sendTime = typeof c.send_time === 'string' && c.send_time !== '' ? c.send_time : null;
  return {
    type: 'campaign',
    external_id: c.id,
    source,
    fields: {
      sender_id: typeof c.web_id === 'number' ? c.web_id : null,
      name: c.settings?.title || c.settings?.subject_line || null,
      email: null,
      status: c.status ?? null,
      budget: null,
      details: {
        type: c.type ?? null,
        subject_line: c.settings?.subject_line ?? null,
        from_name: c.settings?.from_name ?? null,
        list_id: c.recipients?.list_id ?? null,
        create_time: c.create_time ?? null,
        send_time: sendTime,
        emails_sent: c.emails_sent ?? 0,
        report_summary: c.report_summary ?? null,
      },
      // Every field as it arrived (bar hypermedia links), so nothing Mailchimp sent is lost.
    },
    attributes: rest,
    sourceUpdatedAt: null,
    deleted: false,
  };
}
