"""The qingfeng domain: cases, their stage machine, policy, people, audit.

Plain Python and SQLModel only: nothing here imports FastAPI or Prefect.
"""
