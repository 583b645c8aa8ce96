"""Blind A/B preference study (the seed paper's Table 2).

``atelier study serve --a DIR_A --b DIR_B`` shows respondents, one question at a time, the
content photo, the style image and the two results for the same file name in DIR_A and
DIR_B, in an order drawn at random per respondent and question; the respondent clicks the
better one. Votes are stored in SQLite (:mod:`.store`); ``atelier study report`` summarises
them (:mod:`.report`). The page (:mod:`.app`, ``static/``) uses no external assets.
"""
