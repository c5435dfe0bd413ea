"""`python -m services.post_office`: run the post office API with uvicorn (see serving.py)."""

from services.post_office.serving import main

main()
