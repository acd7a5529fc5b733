"""The local web page for data owners (`corpusforge serve-protect`, issue 18): drop photos, pick a preset,
preview one, download a zip of the protected photos and the captions to post. Standard library only
(http.server); the protection itself is corpusforge.unlearnable.photos."""
