"""Account mail: the message a learner gets (workers/mail/message.py) and the SMTP client that sends
it (workers/mail/smtp.py). Rows and tasks live elsewhere; these modules only render and send."""
