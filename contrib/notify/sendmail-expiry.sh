#!/bin/sh
# Mails one token expiry warning: the command of
#   patctl token notify --days 30,7,1 --exec "/bin/sh /etc/nginx-pat/sendmail-expiry.sh"
# (docs/token-lifecycle.md#expiry-warnings). patctl runs it once per token
# and threshold, with the warning in the environment (never the token):
#   PAT_OWNER PAT_DISPLAY_NAME PAT_TOKEN_ID PAT_TOKEN_NAME PAT_EXPIRES
#   PAT_DAYS_LEFT PAT_THRESHOLD
# Exit 0 only when the mail was handed over: otherwise patctl tries again
# on its next run.
#
# Settings (environment; the systemd unit sets them):
#   PAT_MAIL_DOMAIN  mail goes to PAT_OWNER@PAT_MAIL_DOMAIN (required)
#   PAT_MAIL_FROM    the sender (default nginx-pat@ the host name)
#   PAT_ACCOUNT_URL  the account page, named in the mail (optional)
#   SENDMAIL         the sendmail program (default /usr/sbin/sendmail)
set -eu

: "${PAT_MAIL_DOMAIN:?set PAT_MAIL_DOMAIN: mail goes to PAT_OWNER@PAT_MAIL_DOMAIN}"
from=${PAT_MAIL_FROM:-nginx-pat@$(hostname -f 2>/dev/null || hostname)}
sendmail=${SENDMAIL:-/usr/sbin/sendmail}

# A user name is letters, digits and . _ - only (docs/permissions.md), so
# the address needs no quoting; refuse anything else rather than mail it.
case $PAT_OWNER in
    '' | *[!A-Za-z0-9._-]*) echo "sendmail-expiry: unexpected user name" >&2; exit 1 ;;
esac
to="$PAT_OWNER@$PAT_MAIL_DOMAIN"

if [ "$PAT_DAYS_LEFT" = 1 ]; then when="within a day"; else when="in $PAT_DAYS_LEFT days"; fi
# A token's name is the user's own text: keep it out of the headers (only
# the id goes there) and strip control characters from the body.
name=$(printf '%s' "$PAT_TOKEN_NAME" | tr -d '\000-\037\177')
display=$(printf '%s' "$PAT_DISPLAY_NAME" | tr -d '\000-\037\177')

{
    printf 'From: %s\n' "$from"
    printf 'To: %s\n' "$to"
    printf 'Subject: Your access token %s expires %s\n' "$PAT_TOKEN_ID" "$when"
    printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n'
    printf 'Auto-Submitted: auto-generated\n\n'
    printf 'Hello %s,\n\n' "$display"
    printf 'your personal access token "%s" (id %s) expires %s, on %s.\n' "$name" "$PAT_TOKEN_ID" "$when" "$PAT_EXPIRES"
    printf 'Scripts and git clients using it will then be refused.\n\n'
    printf 'Create a new token before then and replace the old one wherever it is used'
    if [ -n "${PAT_ACCOUNT_URL:-}" ]; then printf ':\n  %s\n' "$PAT_ACCOUNT_URL"; else printf '.\n'; fi
    printf '\nThis message was sent once for the %s-day warning.\n' "$PAT_THRESHOLD"
} | "$sendmail" -i -f "$from" -- "$to"
