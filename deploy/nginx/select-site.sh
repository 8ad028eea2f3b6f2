#!/bin/sh
# Runs from the nginx image's /docker-entrypoint.d/ before nginx starts: TLS when a certificate
# and key are mounted at /etc/nginx/certs, plain http otherwise.
set -eu
rm -f /etc/nginx/conf.d/default.conf
if [ -s /etc/nginx/certs/tls.crt ] && [ -s /etc/nginx/certs/tls.key ]; then
    cp /etc/nginx/mentorq/site-https.conf /etc/nginx/mentorq-site.conf
    echo "mentorq: TLS on 443 with /etc/nginx/certs/tls.crt; port 80 redirects"
else
    cp /etc/nginx/mentorq/site-http.conf /etc/nginx/mentorq-site.conf
    echo "mentorq: no certificate in /etc/nginx/certs; plain http on 80"
fi
