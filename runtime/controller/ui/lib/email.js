// The email (SMTP) settings, shared by the setup wizard and the Settings page.
export const SMTP_TYPES = {
  SMTP_NONE: 'None',
  SMTP_LOCAL_HOST: 'Local host',
  SMTP_SERVER: 'SMTP server',
  SMTP_ANONYMOUS_SERVER: 'Anonymous SMTP server',
};
// showSmtpFields shows the email fields the chosen SMTP type uses, now and when it changes.
export function showSmtpFields(type, server, from, auth) {
  const sync = () => {
    const t = type.value;
    server.classList.toggle('hidden', t !== 'SMTP_SERVER' && t !== 'SMTP_ANONYMOUS_SERVER');
    from.classList.toggle('hidden', t === 'SMTP_NONE');
    auth.classList.toggle('hidden', t !== 'SMTP_SERVER');
  };
  type.addEventListener('change', sync);
  sync();
}
