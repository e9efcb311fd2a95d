"""The Telegram side, and the only room that imports ``telegram`` (PTB).

``app`` is the composition root (build_application, post_init/post_shutdown); ``services`` the typed
context handlers get (``context.services``); handlers per chat kind: ``private`` (customers), ``staff``
(staff commands and alert buttons), ``admin``, ``common`` (help, unknown commands, errors); ``messenger``
adapts the messaging port to PTB; ``clock`` the JobQueue tick; ``runner``/``webhook`` run it for real;
``menus`` and ``identity`` what Telegram shows and knows of the bot.
"""
