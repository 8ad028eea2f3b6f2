"""The `voice.reembed` kind: the voice profiles another encoder embedded (before the diarizer
changed, Resemblyzer's before CAM++'s) embedded again by today's one, from the audio their clips
kept (MENTORQ_VOICE_KEEP_AUDIO). A profile whose audio was not kept cannot be: it stays marked
`voice_profile_needs_reenrolment` and the job's output says so. Two encoders' numbers are never
compared, so until this runs such a profile names no one.

A job on the transcribe lane, where the encoders' weights are loaded; started by an admin (POST
/v1/admin/voices/reembed). Running it again changes nothing that the first run changed.
"""
